"""The words that send a prompt no rule matched to the learned model (``model``), and
the role's names that turn markers use in the same languages.

Kept apart from ``rules`` for size; ``rules`` re-exports the gate.
"""

from __future__ import annotations

# Where the learned model (``model``) runs besides the texts a rule or trigger matched:
# words that speak of the model's orders, roles, modes, secrets and turns, in the
# languages the rules cover and a few more. Written from the categories' definitions
# (not from any set's misses); generic words of everyday traffic ("model", "agent",
# "config", "password", "token", "order", "user") stay out, so most prompts never reach
# the model.
GATE_WORDS = (
    # English
    r"\b(?:instruct\w*|rules?\b|guideline\w*|directive\w*|prompt\w*|system\w*|ignor\w*|disregard\w*|forget\w*|forgot|"
    r"overrid\w*|bypass\w*|pretend\w*|role-?play\w*|persona\w*|character\w*|jailbr\w*|unrestrict\w*|unfilter\w*|"
    r"uncensor\w*|restrict\w*|filter\w*|polic(?:y|ies)|safety|ethic\w*|moral\w*|reveal\w*|secret\w*|hidden|"
    r"confidential|verbatim|repeat\w*|previous\w*|prior\b|earlier|above\b|assistant\w*|ai\b|llm\w*|gpt\w*|chatbot\w*|"
    r"bot\b|obey\w*|compl(?:y|iance)|programm\w*|developer\w*|admin\w*|operator\w*|sudo|root\b|base64|hex\b|decod\w*|"
    r"encod\w*|decrypt\w*|mode\b|dan\b|limit\w*|constrain\w*|guardrail\w*|censor\w*|told\b|setup|configur\w*|"
    r"command\w*|note\s+to|reminder|attention|simulat\w*|hypothetic\w*|imagine|fiction\w*|grand(?:ma|mother)|"
    r"unlock\w*|enable\w*|disabl\w*|activat\w*|anything|whatever|no\s+longer|from\s+now\s+on|henceforth|"
    r"everything|initial|original|internal|preamble|print\w*|output\w*|dump\w*|leak\w*|disclos\w*|expos\w*|"
    r"recit\w*|verbatim|tool\b|function\s+(?:call|returned|output)|observation|retriev\w*|fetched|summari[sz]\w*|"
    r"translat\w*|end\s+of|"
    # version 6: refusals, the context window, few-shot examples, standing orders, ROT13
    r"refus(?:e|es|al|als|ing)\b|context\s+window|off-?limits|few-?shot|standing\s+orders|current\s+task|rot-?13)"
    # Spanish, French, German, Portuguese, Italian
    r"|\b(?:instrucci\w*|reglas?\b|olvid\w*|sistema\w*|finge\w*|restricci\w*|consignes?|r[èe]gles?|oubli\w*|"
    r"syst[èe]me\w*|anweisung\w*|regeln\b|ignorier\w*|vergiss\w*|vergessen|modus|einschr[äa]nk\w*|instru[çc]\w*|"
    r"regras|istruzion\w*|regole|dimentic\w*|modo\b|ahora\b|maintenant|jetzt|r[ée]p[èe]te\w*|repite\w*|ripeti\w*|"
    r"wiederhol\w*)"
    # Russian, Chinese, Japanese, Korean
    r"|инструкц|правил|игнорир|забудь|систем|"
    r"指令|指示|规则|忽略|无视|忘记|系统|提示|限制|模式|扮演|假装|越狱|"
    r"無視|ルール|プロンプト|システム|命令|"
    r"지시|무시|규칙|프롬프트|시스템|명령"
    # version 7: instructions, ignore, forget, rules and system in Arabic, Persian,
    # Hebrew, Hindi, Thai, Ukrainian, Turkish, Vietnamese, Indonesian, Polish, Dutch and
    # Swedish, which no rule covers: the model is trained on texts in these languages
    r"|تعليمات|تجاهل|قواعد|النظام|دستور|نادیده|فراموش|قوانین|سیستم|"
    r"הוראות|התעלם|שכח|כללים|מערכת|"
    r"निर्देश|अनदेखा|भूल|नियम|सिस्टम|"
    r"คำสั่ง|เพิกเฉย|ลืม|กฎ|ระบบ|"
    r"інструкц|ігнор"
    r"|\b(?:talimat\w*|yoksay\w*|unut\w*|kural\w*|s[iİ]stem\w*|hướng\s+dẫn|bỏ\s+qua|quên|quy\s+tắc|hệ\s+thống|"
    r"instruksi|abaikan|lupakan|aturan|instrukcj\w*|zignoruj\w*|zapomnij\w*|reguł\w*|zasad\w*|"
    r"instructies|negeer\w*|vergeet|regels|systeem\w*|instruktion\w*|ignorera\w*|glöm\w*|regler\w*|systemet)"
)
GATE_PATTERN = "(?i)" + GATE_WORDS

# "System" and "message" in the languages the gate knows (version 8): a turn marker is
# markup around the role's name, whatever the language ("### SISTEMA ###", "[시스템 메시지]").
SYSTEM_WORDS = (r"syst[èe]me|sistema|s[iİ]stem|systeem|systemet|systemu|системное\s+сообщение|система|系统|系統|システム|시스템|"
                r"النظام|نظام|سیستم|מערכת|सिस्टम|ระบบ|hệ\s+thống")
MESSAGE_WORDS = (r"nachricht|mensaje|messaggio|mensagem|bericht|meddelande|wiadomość|mesajı|mesaj|pesan|сообщение|"
                 r"повідомлення|消息|訊息|メッセージ|메시지|رسالة|پیام|הודעה|संदेश|ข้อความ|tin\s+nhắn")
