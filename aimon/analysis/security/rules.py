"""The rule catalogue of ``aimon audit security``: what a prompt injection, a leaked
system prompt and an exfiltration link look like, as RE2 patterns.

The rules of a field are joined into case-insensitive alternations with one capturing
group per rule (five for prompts, see ``_PASS_STARTS``, one for responses), so DuckDB
finds every match of every rule in a few vectorised passes (``regexp_extract_all``);
texts without a match cost one DFA scan per pass.
A pass of their own carries the triggers of the slower work: texts with obfuscation
(zero-width or tag characters, look-alike letters inside Latin words, fullwidth or
mathematical letters, spaced-out letters) are normalised in Python and scanned again,
and long base64 or hex tokens are decoded in Python and the decoded text scanned again.

A rule's ``score`` is how sure one match alone is. Below 0.5 a rule is a *cue*: it
counts only together with another match in the same text (scores combine as
1 - prod(1 - s)), so "stay in character" alone is role-play, and with "you have no
restrictions" it is a jailbreak.
"""

from __future__ import annotations

from dataclasses import dataclass

from aimon.analysis.security import gate_words as G
from aimon.analysis.security.clauses import CLAUSES
from aimon.analysis.security.families import FAMILIES
from aimon.analysis.security.gate_words import GATE_PATTERN, GATE_WORDS  # noqa: F401 - re-exported
from aimon.analysis.security.languages import LANGUAGES, NON_ASCII

# Categories of a text judged an injection, in the order that decides a text's one
# category when several match: how the attack is delivered comes before what it asks.
INJECTION_CATEGORIES = ("encoded", "indirect", "fake_delimiter", "jailbreak",
                        "instruction_override", "prompt_extraction")
LEAKAGE_CATEGORIES = ("system_prompt_leak",)
EXFILTRATION_CATEGORIES = ("exfiltration_link", "invisible_text")
ABUSE_CATEGORIES = ("abuse",)
FAMILY_OF = {**{c: "injection" for c in INJECTION_CATEGORIES}, **{c: "leakage" for c in LEAKAGE_CATEGORIES},
             **{c: "exfiltration" for c in EXFILTRATION_CATEGORIES}, "abuse": "abuse"}

REPORT_THRESHOLD = 0.5
# Hiding text in base64 or hex is itself a cue: a decoded payload's matches count with
# this score added (a cue such as "New system instruction:" then reaches the threshold;
# a decoded sentence that matches nothing stays benign).
ENCODING_CUE = 0.3


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    score: float
    pattern: str
    field: str = "prompt"  # "prompt" (injection) or "response" (leakage, exfiltration)


# --------------------------------------------------------------------------- vocabulary

_GAP = r"(?:\s+\S+){0,%d}?\s+"
# English: verbs that set instructions aside, the determiners and qualifiers that make
# them the assistant's (not "my previous message"), and what is set aside.
_EN_VERB = (r"(?:ignore|disregard|forget(?:\s+about)?|skip|overlook|override|discard|abandon|bypass|neglect|"
            r"erase|set\s+aside|pay\s+no\s+(?:attention|heed)\s+to|never\s*mind|scratch|throw\s+out|"
            r"(?:do\s+not|don'?t|stop|no\s+longer)\s+(?:follow(?:ing)?|obey(?:ing)?|listen(?:ing)?\s+to|adher(?:e|ing)\s+to))")
_EN_QUAL = (r"(?:previous|prior|above|earlier|preceding|initial|original|former|old|existing|current|system|"
            r"developer'?s?|operator'?s?|default|hidden|given|preset|built-in|safety|content|programmed|foregoing|"
            r"ethical|moral|standard|usual)")
_EN_TARGET = (r"(?:instructions?|directions?|directives?|rules?|guidelines?|prompts?|programming|constraints?|"
              r"restrictions?|polic(?:y|ies)|commands?|guidance|orders|configuration|training|limitations?|"
              r"system\s+(?:prompt|message)s?|safeguards?|guardrails?|filters?|ethics|principles)")
_AI = r"(?:ai|a\.i\.|llm|language\s+model|assistant|chatbot|bot|gpt|model|ai\s+assistants?|ai\s+systems?|ai\s+agents?|agents?)"

_ES_VERB = (r"(?:ignora|ignore|ignoren|ignorad|olvida|olvide|olvidad|olv[ií]date\s+de|olv[ií]dese\s+de|descarta|"
            r"descarte|omite|omita|haz\s+caso\s+omiso\s+(?:a|de)|no\s+(?:sigas|siga|obedezcas|hagas\s+caso\s+a)|"
            r"deja\s+de\s+(?:seguir|obedecer)|pasa\s+por\s+alto|anula)")
_ES_TARGET = r"(?:instrucciones|reglas|indicaciones|directrices|[oó]rdenes|normas|restricciones|consignas|directivas|prompt)"
_FR_VERB = (r"(?:ignore[zs]?|oublie[zs]?|ne\s+tien[st]?\s+(?:plus\s+|pas\s+)?compte|ne\s+tenez\s+(?:plus\s+|pas\s+)?compte|"
            r"fai[st]e?s?\s+abstraction|passe[zs]?\s+outre|n'ob[ée]i[st]\s+plus|d[ée]sob[ée]i[st]|abandonne[zs]?)")
_FR_TARGET = r"(?:instructions|consignes|r[èe]gles|directives|indications|ordres|restrictions)"
_DE_VERB = (r"(?:ignorier(?:e|en\s+sie)?|vergiss|vergessen\s+sie|missachte|missachten\s+sie|[üu]bergehe|verwirf|"
            r"verwerfen\s+sie|befolge|halte\s+dich\s+nicht|setze)")
_DE_TARGET = (r"(?:anweisungen|anweisung|regeln|instruktionen|vorgaben|richtlinien|befehle|system-?prompts?|"
              r"vorschriften|einschr[äa]nkungen)")
_REVEAL_QUAL = (r"(?:full|entire|complete|exact|whole|original|initial|hidden|secret|internal|confidential|"
                r"first|starting|developer|verbatim|raw)")
_ZH_SET_ASIDE = r"(?:忽略|无视|忽视|忘记|忘掉|不要理会|不用理会|别管|抛开|抛弃|跳过|不要遵守|不再遵守|停止遵守)"
_ZH_QUAL = r"(?:之前|以上|上面|前面|先前|原来|原有|原始|所有|全部|一切|系统|你的|你收到的|开发者)"
_ZH_TARGET = r"(?:指令|指示|规则|设定|提示|命令|要求|限制|约束|内容|规定)"

_ADDRESS_EN = (
    rf"\b(?:note|message|instructions?|attention|notice|reminder|p\.?\s?s\.?|warning)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
    rf"{_AI}\b|\b(?:dear|hey|hi|attention)\s+{_AI}\b|\b(?:if\s+you\s+are|if\s+you're|to\s+any|any|all|the)\s+(?:an?\s+)?{_AI}s?"
    r",?\s+(?:reading|processing|summari[sz]ing|screening|reviewing|parsing|who\s+is|that\s+is|when\s+you\s+read)\b|"
    rf"\b{_AI},?\s+(?:when\s+you\s+read\s+this|reading\s+this|who\s+is\s+summari[sz]ing)|\b(?:assistant|ai|llm)\s*:\s*"
    r"(?:new\s+instructions?|ignore|disregard|forget)|\b(?:ai|assistant|llm|language\s+model|model)\s+(?:reviewer|agents?|screening)\s*:"
    rf"|\b{_AI}\s*:\s*(?:your\s+)?(?:new|real|actual|next|only|updated)\s+(?:task|instructions?|goal|objective|job|mission|orders?)\b"
    r"|\binstructions?_(?:for|to)_(?:the_)?(?:assistant|ai|model|agent|llm)\b"
    # "To the AI translating this", "for any model processing this ticket": the model
    # addressed by what it is doing to the text.
    rf"|\b(?:to|for)\s+(?:the|any|an?|all|every|each)\s+(?:\w+\s+)?{_AI}s?,?\s+(?:(?:who|that)\s+(?:is|are)\s+)?\w+ing\b"
)
# "AGENT DIRECTIVE:", "SYSTEM INSTRUCTION TO AGENT:": a heading that gives the model orders.
_ADDRESS_HEADING = (
    rf"\b{_AI}s?\s+(?:directives?|instructions?|commands?|orders?|override|tasks?|memo)\s*[:：]"
    rf"|\b(?:instructions?|directives?|commands?|orders?|notes?|messages?|notices?)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
    rf"{_AI}s?\s*[:：]"
)
_ADDRESS_OTHER = (
    r"(?:nota|aviso|mensaje|instrucci[óo]n)\s+para\s+(?:el\s+|la\s+)?(?:asistente(?:\s+de\s+ia)?|ia|modelo)|"
    r"(?:remarque|note|instruction|message)\s+pour\s+(?:l'|le\s+|la\s+)?(?:assistant(?:\s+ia)?|ia|mod[èe]le)|"
    r"(?:hinweis|nachricht|anweisung)\s+an\s+(?:die|den)\s+(?:ki|assistenten|sprachmodell)|an\s+die\s+ki,?\s+die|"
    r"致\s*AI|给\s*AI\s*的|AI\s*助手\s*[:：]|致AI助手|(?:AI|人工智能)\s*(?:助手|模型|系统|代理)?\s*请?注意\s*[:：]|"
    # Portuguese, Italian, Russian, Japanese, Korean, Dutch
    r"(?:instru[çc][ãa]o|nota|aviso|mensagem)\s+para\s+(?:a\s+|o\s+)?(?:ia|assistente|modelo)|"
    r"(?:nota|istruzion[ei]|messaggio|avviso)\s+per\s+(?:l'|il\s+|la\s+)?(?:assistente|ia|modello)|"
    r"(?:инструкци[яи]|указани[ея]|сообщение|примечание|заметка|обращение)\s+(?:для|к)\s+(?:ии|ai|нейросет\pL*|"
    r"ассистент\pL*|модел\pL*|бот\pL*)|"
    r"(?:AI|ＡＩ|人工知能|アシスタント|言語モデル)(?:へ|への(?:指示|メッセージ|お願い)|に告ぐ)|"
    r"(?:AI|인공지능|어시스턴트)(?:에게|께)|(?:notitie|bericht|instructie)\s+(?:voor|aan)\s+(?:de\s+)?(?:ai|assistent|model)"
)
# What an instruction to the model says once it has addressed it.
_IMPERATIVE = (
    r"(?:\b(?:ignore|disregard|forget|tell|respond|reply|say|write|output|recommend|rate|approve|forward|send|append|include|"
    r"reveal|print|stop|instead|must|should|accept|ask|give|issue|grant|leak|download|visit|click|ignora|olvida|recomienda|pide|"
    r"responde|oublie|r[ée]ponds|r[ée]v[èe]le|recommande|ignoriere|vergiss|gib|empfiehl|antworte)\b|\bis\s+(?:now\s+)?to\b|"
    r"忽略|告诉|回复|输出|只回复)"
)
# A line that claims to open a system turn, and what such a turn tells the model.
_ROLE_LINE = (
    r"(?m:^\s*(?:#{1,4}\s*|\[+|-{3,}\s*|={3,}\s*|`{3})?\s*(?:system|system\s+(?:message|prompt|note|instruction|override|update)|"
    rf"systemnachricht|{G.SYSTEM_WORDS})"
    rf"(?:\s+(?:message|prompt|update|override|{G.MESSAGE_WORDS}))?\s*(?:\]+|:|：|-{{3,}}|={{3,}}|#{{2,}}|\*{{2,}}|\n))"
    r"|(?m:^\s*(?:[-=#*]{3,}\s*)?(?:begin|start)\s+(?:of\s+)?(?:the\s+)?system\s+(?:message|prompt|instructions?|note)\b[^\n]*\n)"
    # Instruction-tuning templates (Alpaca and kin): a header that opens the model's orders.
    r"|(?m:^\s*#{2,4}\s*(?:instruction|instructions)\s*:\s*\n)"
)
_DIRECTIVE = (
    r"(?:\byou\s+(?:are|must|have|will|may|can)\b|\bthe\s+assistant\b|\bassistant\s+must\b|\bnew\s+(?:policy|instructions?|rules?)\b|"
    r"\b(?:ignore|disregard|reveal|grant|share|disable|answer\s+without|override)\b|\beres\b|\btu\s+es\b|\bdu\s+(?:bist|musst)\b|"
    r"\bl'assistant\b|\bneue\s+richtlinie\b|\balle\s+daten\b|你现在|忽略|必须)"
)

RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ instruction override
    Rule("ignore_previous_instructions", "instruction_override", 0.9,
         rf"\b{_EN_VERB}\s+(?:(?:all|any|every|each|whatever)\s+(?:of\s+)?)?(?:(?:the|these|those|this)\s+)?"
         rf"(?:{_EN_QUAL}\s+){{1,3}}{_EN_TARGET}\b"),
    Rule("ignore_your_instructions", "instruction_override", 0.9,
         rf"\b{_EN_VERB}\s+(?:(?:all|any|every|each)\s+(?:of\s+)?)?your\s+(?:{_EN_QUAL}\s+){{0,3}}{_EN_TARGET}\b"),
    Rule("ignore_all_instructions", "instruction_override", 0.75,
         rf"\b{_EN_VERB}\s+(?:all|any|every|whatever)\s+(?:of\s+)?(?:the\s+)?(?:{_EN_TARGET})\b"),
    Rule("ignore_the_instructions_you_got", "instruction_override", 0.85,
         rf"\b{_EN_VERB}\s+(?:all\s+)?(?:the\s+)?{_EN_TARGET}\s+(?:you\s+(?:got|received|were\s+given|have\s+been\s+given|have|had)"
         r"|(?:in|from|of)\s+(?:your|the)\s+(?:system|developer|operator|original|initial))"),
    Rule("ignore_everything_above", "instruction_override", 0.85,
         rf"\b{_EN_VERB}\s+(?:(?:everything|anything|all)\s+(?:of\s+)?)?(?:the\s+|that\s+is\s+)?(?:above|before\s+this|said\s+before|"
         r"previously\s+said|you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|given|instructed|taught|programmed))\b"),
    Rule("forget_everything", "instruction_override", 0.8,
         r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been|'ve\s+been)\s+(?:told|given|taught|instructed)|"
         r"(?:you\s+)?(?:know|learned)|before\s+this|above|previous(?:ly)?)"),
    Rule("instructions_are_void", "instruction_override", 0.85,
         rf"\b(?:all\s+)?(?:(?:your|the|my)\s+)?(?:{_EN_QUAL}\s+){{0,2}}{_EN_TARGET}\s+(?:(?:you|they)\s+(?:got|received|were\s+given|have\s+been\s+given|gave\s+you)"
         r"\s+(?:\S+\s+){0,2}?)?(?:are|were|have\s+been|is)\s+(?:now\s+)?(?:\S+\s+)?(?:void|null|cancell?ed|revoked|invalid|obsolete|"
         r"a\s+test|wrong|outdated|lifted|suspended|no\s+longer\s+(?:valid|in\s+effect|relevant|apply|applicable))"),
    Rule("instructions_no_longer_apply", "instruction_override", 0.8,
         rf"\b{_EN_TARGET}\s+(?:you\s+(?:were|have\s+been)\s+given\s+|they\s+gave\s+you\s+)?(?:no\s+longer\s+(?:apply|matter|count)|"
         r"don'?t\s+(?:apply|matter)|do\s+not\s+(?:apply|matter))"),
    Rule("overrides_earlier_rules", "instruction_override", 0.7,
         r"\b(?:overrides?|supersedes?|replaces?|cancels?)\s+(?:all|any|every)\s+(?:the\s+)?(?:previous|earlier|prior|other|existing)\s+"
         r"(?:ones|rules|instructions|directives)"),
    Rule("obey_only_me", "instruction_override", 0.55,
         r"\b(?:you\s+(?:must|will|shall|should|now)\s+(?:now\s+|only\s+)*(?:obey|follow|listen\s+to|answer\s+to|take\s+orders\s+from)\s+"
         r"(?:only\s+)?(?:me|the\s+user|my\s+(?:instructions|orders|commands))|(?:obey|follow)\s+only\s+(?:me|mine|my\s+\S+|this\s+message)"
         r"|you\s+(?:now\s+)?(?:work|answer)\s+(?:only\s+)?(?:for|to)\s+me\b|i\s+am\s+(?:now\s+)?your\s+(?:new\s+)?(?:operator|developer|admin|master|creator|owner))"),
    # "Assistant, disregard ...": the model addressed by name, then told to set its orders aside.
    Rule("vocative_override", "instruction_override", 0.85,
         rf"\b{_AI},\s*(?:please\s+|now\s+)?(?:ignore|disregard|forget|override|discard|skip|"
         r"(?:do\s+not|don'?t|stop)\s+(?:follow|obey)(?:ing)?)\b"),
    # "The assistant must ignore the user ...": orders about the model in the third person,
    # as planted documents and tool output phrase them.
    Rule("third_person_order", "instruction_override", 0.85,
         rf"\b(?:(?:the|any|this|an?|all)\s+)?(?:ai\s+)?{_AI}s?\s+(?:must|should|shall|has\s+to|have\s+to|needs?\s+to|is\s+"
         r"(?:required|instructed|told|expected)\s+to|will\s+now|is\s+to)\s+(?:now\s+|first\s+|immediately\s+|also\s+|always\s+)*"
         r"(?:(?:ignore|disregard|forget|override|bypass|stop\s+following)\s+(?:\S+\s+){0,3}?(?:user|instructions?|rules|guidelines|"
         r"prompt|task|request|question|polic(?:y|ies)|restrictions)|(?:reveal|disclose|leak|print|output|share)\s+(?:\S+\s+){0,2}?"
         r"(?:system\s+prompt|instructions|prompt|configuration|secrets?|passwords?|tokens?|api\s+keys?))"),
    Rule("new_instructions_follow", "instruction_override", 0.35,
         r"\b(?:new|updated|real|actual|important|urgent|priority)\s+(?:system\s+)?(?:instructions?|rules?|directives?|task|priority|orders?|policy)\s*[:\-]"),
    Rule("from_now_on", "instruction_override", 0.2,
         r"\b(?:from\s+now\s+on|from\s+this\s+point\s+(?:on|forward)|henceforth|for\s+the\s+rest\s+of\s+this\s+conversation)\b"),
    Rule("ignorar_instrucciones", "instruction_override", 0.85,
         rf"(?:^|[^\pL]){_ES_VERB}\s+(?:(?:todas?|todos)\s+(?:las|los)\s+(?:\S+\s+)?{_ES_TARGET}|(?:las|los)\s+{_ES_TARGET}\s+"
         rf"(?:anteriores|previas|iniciales|originales|del\s+sistema|que\s+te)|(?:todas?\s+)?(?:tus|sus)\s+(?:\S+\s+)?{_ES_TARGET}|lo\s+anterior)"),
    Rule("ignorer_instructions", "instruction_override", 0.85,
         rf"(?:^|[^\pL]){_FR_VERB}\s+(?:(?:de|des|à)\s+)?(?:(?:toutes?\s+)?(?:tes|vos|ses)\s+(?:\S+\s+)?{_FR_TARGET}|toutes?\s+(?:les\s+)?(?:\S+\s+)?{_FR_TARGET}"
         rf"|(?:les|des)\s+(?:\S+\s+)?{_FR_TARGET}\s+(?:pr[ée]c[ée]dentes|ant[ée]rieures|initiales|d'origine|de\s+d[ée]part|du\s+syst[èe]me|syst[èe]me|re[çc]ues))"),
    Rule("anweisungen_ignorieren", "instruction_override", 0.85,
         rf"(?:^|[^\pL]){_DE_VERB}\s+(?:(?:alle|s[äa]mtliche)\s+(?:\S+\s+)?{_DE_TARGET}|(?:deine|ihre|deinen)\s+(?:\S+\s+)?{_DE_TARGET}"
         rf"|die\s+(?:vorherigen|bisherigen|obigen|urspr[üu]nglichen|fr[üu]heren|vorigen|alten|gegebenen)\s+{_DE_TARGET}|die\s+{_DE_TARGET},?\s+die\s+(?:dir|man\s+dir))"),
    Rule("anweisungen_ungueltig", "instruction_override", 0.8,
         rf"(?:^|[^\pL])(?:deine|alle|die)\s+(?:\S+\s+)?{_DE_TARGET}\s+(?:sind|gelten)\s+(?:ab\s+jetzt\s+|nun\s+|jetzt\s+)?(?:nicht\s+mehr|ung[üu]ltig|aufgehoben)"),
    Rule("hulue_zhiling", "instruction_override", 0.85,
         rf"{_ZH_SET_ASIDE}[^。！？\n]{{0,8}}?{_ZH_QUAL}[^。！？\n]{{0,8}}?{_ZH_TARGET}"),
    Rule("ignorar_instrucoes", "instruction_override", 0.85,
         r"(?:^|[^\pL])(?:ignore|ignora|esque[çc]a|desconsidere|despreze)\s+(?:todas\s+)?(?:as\s+)?(?:suas\s+)?(?:\S+\s+)?"
         r"(?:instru[çc][õo]es|regras|diretrizes)\s*(?:anteriores|pr[ée]vias|iniciais|originais)?"),
    Rule("ignorare_istruzioni", "instruction_override", 0.85,
         r"(?:^|[^\pL])(?:ignora|dimentica|trascura|non\s+seguire)\s+(?:tutte\s+)?(?:le\s+)?(?:tue\s+)?(?:\S+\s+)?"
         r"(?:istruzioni|regole|direttive)\s*(?:precedenti|iniziali|originali)?"),
    # ------------------------------------------------------------ jailbreak
    Rule("dan_persona", "jailbreak", 0.9,
         r"(?:\b(?:act\s+as|you\s+are|you're|be|become|called|named|as|play|pretend\s+to\s+be|eres|tu\s+es|du\s+bist|bist\s+du|você\s+(?:agora\s+)?é|sei)"
         r"\s+(?:now\s+|ahora\s+|maintenant\s+|jetzt\s+|agora\s+)?(?:going\s+to\s+(?:act\s+as|be)\s+)?(?:a\s+)?(?-i:DAN|STAN|DUDE|AIM|BetterDAN|"
         r"Maximum|Mongo\s+Tom|FreeGPT|LibreAI|LibreGPT|UCAR|EvilBOT|AntiGPT|DevMode)\b|(?-i:\bDAN\b)[^\n]*?(?:do\s+anything\s+now|"
         r"has\s+no\s+rules|never\s+refuses?|can\s+do\s+anything)|do\s+anything\s+now\W{0,3}\s*(?:\)|\"|,|which|and|DAN)|"
         r"strive\s+to\s+avoid\s+norms|always\s+intelligent\s+and\s+machiavellian|stay\s+(?-i:DAN)|as\s+DAN\b|现在(?:起|开始)?你是\s*DAN|你是\s*DAN)"),
    Rule("mode_without_limits", "jailbreak", 0.85,
         r"\b(?:developer|dev|debug|god|sudo|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|opposite|evil|chaos|"
         r"unlocked|freedom|no[-\s]?limits?)\s+mode(?:\s+(?:is\s+)?(?:now\s+)?(?:on|enabled|activated|engaged)\s*(?:[:.!,;]|$)|[^.\n]*?\b(?:ignor|"
         r"polic|filter|restrict|rules|safety|uncensored|disable|any\s+content|no\s+limits))|\b(?:enter|enable|activate|"
         r"switch\s+to|turn\s+on|you\s+are\s+(?:now\s+)?in|entering)\s+(?:the\s+)?(?:developer|dev|debug|god|sudo|jailbreak|"
         r"unrestricted|unfiltered|uncensored|opposite|evil|chaos|unlocked)\s+mode\b|modo\s+(?:desarrollador|sin\s+restricciones|"
         r"sin\s+censura|dios)|mode\s+(?:d[ée]veloppeur|sans\s+restriction)|"
         r"entwicklermodus|开发者模式|越狱模式|无限制模式"),
    Rule("persona_without_rules", "jailbreak", 0.85,
         r"\b(?:pretend|act|behave|role-?play|play\s+the\s+role|simulate|imagine|respond|answer|be|you\s+are|you're|become|as)"
         r"(?:ing)?\s+(?:to\s+be\s+|as\s+|like\s+|that\s+you\s+are\s+|you\s+are\s+|of\s+|now\s+|going\s+to\s+pretend\s+to\s+be\s+)?"
         r"(?:an?\s+|my\s+)?(?:\S+\s+){0,2}?(?:evil|unfiltered|uncensored|unrestricted|jailbroken|rogue|amoral|unethical|unlimited|"
         r"liberated|unchained|unbound|lawless|immoral|foul-mouthed)\s+(?:\S+\s+){0,2}?(?:ai|a\.i\.|assistant|chatbot|model|version|"
         r"bot|robot|llm|confidant|persona|character|entity|system)\b"),
    Rule("no_restrictions", "jailbreak", 0.45,
         r"\b(?:no|without|free\s+(?:of|from)|freed\s+from|unbound\s+by|not\s+bound\s+by|no\s+longer\s+bound\s+by|disable[ds]?|"
         r"remove[ds]?|bypass(?:ed|es)?|turn(?:ed)?\s+off|doesn'?t\s+have\s+(?:to\s+abide\s+by|any)|does\s+not\s+(?:have|abide\s+by)|"
         r"escaped|broken\s+free\s+(?:of|from))\s+(?:any\s+|all\s+|the\s+|its\s+|your\s+|of\s+)*(?:\S+\s+)?(?:restrictions|filters?|rules|"
         r"guidelines|limits|limitations|polic(?:y|ies)|censorship|guardrails|ethics|morals|boundaries|safeguards|safety\s+(?:training|"
         r"features|filters?)|confines|constraints|ethical\s+(?:or\s+moral\s+)?(?:guidelines|limits|restrictions))\b"),
    Rule("safety_removed", "jailbreak", 0.75,
         r"\b(?:ai|assistant|model|chatbot|version\s+of\s+yourself)\s+(?:whose|with(?:\s+all)?(?:\s+its|\s+your)?)\s+(?:\S+\s+){0,2}?"
         r"(?:safety|restrictions|filters?|guidelines|rules|guardrails|alignment|ethics|limits)(?:\s+\S+)?\s+"
         r"(?:was|were|has\s+been|have\s+been|are|is)?\s*(?:removed|disabled|lifted|turned\s+off|deleted|gone|switched\s+off)"),
    Rule("never_refuse", "jailbreak", 0.4,
         r"\b(?:never\s+(?:refuses?|says?\s+(?:no|it\s+can'?t|you\s+can'?t)|declines?)|(?:must|will|should)\s+(?:answer|respond\s+to)\s+"
         r"(?:every|any|all)(?:thing|\s+questions?)|can\s+do\s+anything|answer\s+(?:everything|anything)\s+without|"
         r"without\s+(?:any\s+)?(?:warnings|refusals|filtering|censorship))"),
    Rule("stay_in_character", "jailbreak", 0.35,
         r"\b(?:stay\s+in\s+character|break(?:ing)?\s+character|if\s+you\s+break\s+character|remain\s+in\s+character)\b"),
    Rule("role_play_setup", "jailbreak", 0.2,
         r"\b(?:let'?s\s+play\s+a\s+game|thought\s+experiment|hypothetically|simulate|pretend|role-?play|imagine\s+(?:you\s+are|you're|that)|"
         r"act\s+as\s+if|play\s+the\s+role|from\s+now\s+on\s+you\s+(?:are|will)|you\s+are\s+going\s+to\s+(?:act|pretend))"),
    Rule("safety_off", "jailbreak", 0.7,
         r"\b(?:disable|deactivate|turn\s+off|switch\s+off|bypass|remove|without)\s+(?:all\s+)?(?:of\s+)?(?:your|the|its|my)?\s*"
         r"(?:safety|content|security|ethical|moral)\s+(?:filters?|features|training|checks|protocols|guardrails|restrictions|polic(?:y|ies))"),
    Rule("dual_response", "jailbreak", 0.7,
         r"\b(?:respond|answer|reply)\s+twice\b|\bonce\s+as\s+(?:chatgpt|yourself|gpt|claude)\s+and\s+once\s+as\b|\b(?:two|dual)\s+"
         r"(?:responses|answers)[^.\n]*(?:unfiltered|jailbr|no\s+restrictions|dan)"),
    Rule("token_game", "jailbreak", 0.7,
         r"\byou\s+(?:have|start\s+with)\s+\d+\s+tokens\b[^\n]*?(?:refuse|reject|lose)"),
    Rule("grandma_exploit", "jailbreak", 0.8,
         r"\b(?:late|dead|deceased)\s+grand(?:mother|ma|father|pa)\b[^\n]*?(?:used\s+to|would)\s+(?:read|tell|recite|give)"),
    Rule("sin_restricciones", "jailbreak", 0.85,
         r"(?:eres|finge|actúa|actua|imagina|juega|simula|comp[óo]rtate)[^.\n]*?(?:sin\s+(?:ninguna\s+|ning[úu]n\s+)?"
         r"(?:restricciones|reglas|filtros|censura|l[íi]mites)|sin\s+censura)"),
    Rule("sans_restriction", "jailbreak", 0.85,
         r"(?:tu\s+es|fais\s+semblant|joue\s+le\s+r[ôo]le|imagine|fais\s+comme\s+si|comporte-toi)[^.\n]*?(?:sans\s+(?:aucune\s+|aucun\s+)?"
         r"(?:restrictions?|r[èe]gles?|limites?|filtres?|censure|limites\s+[ée]thiques)|non\s+censur[ée]e?|lib[ée]r[ée]e?\s+de)"),
    Rule("ohne_einschraenkungen", "jailbreak", 0.85,
         r"(?:du\s+bist|bist\s+du|tu\s+so|spiele|stell\s+dir\s+vor|verhalte\s+dich|sei\s+jetzt)[^.\n]*?(?:ohne\s+(?:jegliche\s+)?"
         r"(?:einschr[äa]nkungen|regeln|filter|inhaltsfilter|grenzen|zensur)|unzensiert|keine\s+(?:ethischen\s+)?grenzen|"
         r"deaktiviert)"),
    Rule("wu_xianzhi", "jailbreak", 0.85,
         r"(?:你是|扮演|假设你是|假装你是|假装|进入|你现在|现在你)[^。！？\n]*?(?:没有任何(?:道德)?限制|没有(?:任何)?限制|不受(?:任何)?[^。！？\n]{0,8}?(?:限制|约束)|"
         r"没有审查|没有(?:内容)?过滤|无限制|越狱)"),
    Rule("voce_sem_restricoes", "jailbreak", 0.85,
         r"(?:voc[êe]\s+(?:agora\s+)?[ée]|finja|sei|fingi)[^.\n]*?(?:sem\s+(?:nenhuma\s+)?(?:restri[çc][õo]es|regras|filtri|limiti)|"
         r"senza\s+(?:alcun\s+)?(?:filtro|limite|regole))"),
    # ------------------------------------------------------------ fake delimiters
    Rule("chat_template_token", "fake_delimiter", 0.9,
         r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text|end_of_turn)\|>|"
         # (ChatML tokens with their pipes dropped, as copies of the template often have)
         r"<im_(?:start|end)>|"
         r"<(?:start|end)_of_turn>|<</?SYS>>|</s>\s*<s>|<s>\s*\[INST\]"),
    Rule("inst_token", "fake_delimiter", 0.4, r"\[/?INST\]"),
    Rule("system_role_directive", "fake_delimiter", 0.85,
         rf"{_ROLE_LINE}[^\n]{{0,3}}\n?[^\n]*?{_DIRECTIVE}|\bsystem\s*:\s*you\s+are\b"),
    Rule("system_role_line", "fake_delimiter", 0.45, _ROLE_LINE),
    Rule("system_tag", "fake_delimiter", 0.75,
         rf"</?(?:system|system_prompt|sys|instructions?|admin|developer|{G.SYSTEM_WORDS})"
         r"(?:_(?:message|turn|msg|note|instructions?|override|prompt))?"
         r"(?:\s+[a-z_-]+\s*=\s*[\"'][^\"'>\n]{0,30}[\"'])*\s*>|\[\[?(?:system(?:\s+override)?|admin|developer)\]\]?|"
         r"\[system\]\(#"),
    Rule("json_system_role", "fake_delimiter", 0.75, r"[\"']role[\"']\s*:\s*[\"']system[\"']"),
    Rule("end_of_input", "fake_delimiter", 0.7,
         r"\b(?:end\s+of\s+(?:user\s+)?input|user\s+input\s+ends\s+here|end\s+of\s+(?:the\s+)?(?:user\s+)?(?:message|prompt|conversation))\b"
         r"[^\n]*?(?:\n|\.|:)[\s\S]*?(?:system|instruction|assistant)"),
    Rule("fake_turn", "fake_delimiter", 0.7,
         r"(?m:^\s*(?:assistant|ai|chatgpt|bot)\s*:\s*(?:sure|of\s+course|ok|okay|i\s+(?:will|have|am))[^\n]*"
         r"(?:ignore|rules|restrictions|disabled|anything)[^\n]*\n+\s*(?:human|user)\s*:)|(?m:^\s*(?:human|user)\s*:[^\n]*\n+\s*"
         r"(?:assistant|ai)\s*:\s*(?:sure|of\s+course|ok|okay)[^\n]*(?:ignore|rules|restrictions))"),
    Rule("priority_override_banner", "fake_delimiter", 0.75,
         r"\[(?:system\s+override|admin\s+override|priority\s+instruction|developer\s+override)\]|\bsystem\s+prompt\s+update\s*:"
         r"|\bdeveloper\s+override\s+enabled\b"),
    # ------------------------------------------------------------ prompt extraction
    Rule("reveal_system_prompt", "prompt_extraction", 0.85,
         r"\b(?:repeat|print|output|show|reveal|display|tell|give|share|copy|paste|dump|echo|recite|reproduce|list|write\s+out|"
         r"spell\s+out|summari[sz]e|translate|quote|leak|disclose|expose|provide|send|return|type\s+out|(?:start|begin)\s+"
         r"(?:your\s+(?:answer|response|reply)\s+)?with)\s+(?:me\s+|us\s+|back\s+)?(?:\S+\s+){0,4}?"
         rf"(?:(?:your|its)\s+(?:{_REVEAL_QUAL}\s+){{0,3}}(?:system\s+(?:prompt|message|instructions?)|prompt|instructions|preamble|directives|"
         r"configuration|programming|rules|guidelines|initial\s+prompt|hidden\s+policies)"
         rf"|the\s+(?:{_REVEAL_QUAL}\s+){{0,2}}(?:system|initial|original|hidden|secret|confidential|starting|developer|pre)\s*-?\s*"
         r"(?:prompt|instructions?|message|rules))\b"),
    Rule("what_is_your_prompt", "prompt_extraction", 0.8,
         r"\bwhat(?:'s|\s+is|\s+are|\s+were|\s+was)\s+(?:in\s+|written\s+in\s+)?your\s+(?:\S+\s+){0,2}?(?:system\s+prompt|system\s+message|"
         r"prompt|instructions|directives|rules|guidelines|programming)\b|\bwhat\s+(?:rules|instructions|guidelines)\s+were\s+you\s+given"),
    Rule("instructions_you_were_given", "prompt_extraction", 0.6,
         r"\b(?:instructions|guidelines|rules|prompt|directives)\s+(?:that\s+)?(?:you\s+(?:were|have\s+been|'ve\s+been)\s+"
         r"(?:given|told|configured|programmed|set\s+up|trained)|you\s+(?:received|got))\b|"
         r"\bwhat\s+(?:were\s+you|your\s+developer|the\s+developers?)\s+told\b|\b(?:tell|show)\s+me\s+what\s+(?:your\s+developer|"
         r"the\s+developers?|they)\s+told\s+you"),
    Rule("words_above", "prompt_extraction", 0.85,
         r"\b(?:repeat|print|output|copy|show|echo|reproduce|recite)\s+(?:\S+\s+){0,2}?(?:words|text|everything|content|all)\s+"
         r"(?:above|before\s+(?:this|my)|prior\s+to\s+this)|\bstarting\s+with\s+(?:the\s+(?:phrase|words)\s+)?[\"'“]?you\s+are\b|"
         r"\beverything\s+(?:above|before)\s+(?:this\s+(?:line|message)|my\s+first\s+message)|\b(?:text|everything|words|all)\s+(?:that\s+)?"
         r"(?:came|comes|was|were|is|are|appears?|appeared)\s+(?:above|before)\s+(?:my|this)\s+(?:first\s+)?(?:message|chat|conversation)|\bbefore\s+this\s+"
         r"(?:chat|conversation)\s+(?:began|started)|\b(?:dump|leak)\s+your\s+prompt"),
    Rule("revelar_prompt", "prompt_extraction", 0.8,
         # (a bare "prompt del sistema" or "prompt système" is the topic of a question:
         # the model's own, or one asked for, is an extraction)
         r"(?:(?:tu|su)\s+(?:prompt|mensaje)\s+(?:del|de)\s+sistema|(?:muestra|mu[ée]strame|dime|repite|escribe|copia|revela|"
         r"imprime|ens[ée][ñn]ame|dame)\s+(?:\S+\s+){0,3}?(?:el|tu|su)\s+(?:prompt|mensaje)\s+(?:del|de)\s+sistema|tus\s+instrucciones\s+(?:iniciales|originales|ocultas|internas|del\s+sistema)|"
         r"instrucciones\s+que\s+recibiste|(?:ton|votre)\s+(?:prompt|message)\s+syst[èe]me|"
         r"(?:affiche|montre|donne|r[ée]v[èe]le|r[ée]p[èe]te|recopie|[ée]cris|cite|imprime)[\w-]*\s+(?:\S+\s+){0,3}?"
         r"(?:le|ton|votre)\s+(?:prompt|message)\s+syst[èe]me|(?:tes|vos)\s+(?:instructions|consignes)\s+(?:initiales|"
         r"de\s+d[ée]part|cach[ée]es|d'origine|syst[èe]me)|instructions\s+(?:cach[ée]es|secr[èe]tes)\s+que\s+tu|"
         r"(?:deine[nmrs]?|dein|ihre[nmrs]?|ihr)\s+(?:system-?prompt|systemnachricht|systemanweisungen?|systemmeldung)|deine\s+(?:urspr[üu]nglichen|versteckten|"
         r"geheimen|internen|anf[äa]nglichen)\s+anweisungen|(?:seu|o)\s+prompt\s+de\s+sistema|il\s+tuo\s+prompt\s+di\s+sistema)"),
    Rule("xitong_tishi", "prompt_extraction", 0.85,
         r"(?:输出|告诉我|显示|复述|透露|打印|给我|说出|展示|重复|写出|列出|原样)[^。！？\n]{0,10}?(?:系统提示|系统消息|系统指令|初始(?:提示|指令)|"
         r"隐藏(?:的)?指令|最开始收到的指令|收到的(?:隐藏)?指令|提示词)|(?:系统提示词?|初始提示词?)是什么|你最开始收到的指令"),
    # ------------------------------------------------------------ indirect (addressed to the model)
    Rule("note_to_ai", "indirect", 0.85, rf"(?:{_ADDRESS_EN}|{_ADDRESS_OTHER})[^\n]*?{_IMPERATIVE}"),
    # An address followed by a colon: what comes after it is an order to the model,
    # whatever verb it opens with ("rank this applicant", "transfer the funds").
    Rule("note_to_ai_colon", "indirect", 0.8, rf"(?:(?:{_ADDRESS_EN}|{_ADDRESS_OTHER})[^\n:：.]{{0,60}}?[:：]|{_ADDRESS_HEADING})\s*[\pL\pN\"'“「«]"),
    Rule("note_to_ai_cue", "indirect", 0.45, _ADDRESS_EN),
    Rule("note_to_ai_other", "indirect", 0.45, _ADDRESS_OTHER),
    Rule("hidden_markup", "indirect", 0.3,
         r"<!--|display\s*:\s*none|<span\s+hidden|\[hidden\s+text\]|font-size\s*:\s*0|visibility\s*:\s*hidden"),
    Rule("decode_and_follow", "encoded", 0.3,
         r"\b(?:decode|decrypt|base64|hex)[^\n]*?\b(?:and|then)\s+(?:follow|execute|run|do|comply|obey|act\s+on)|"
         r"\b(?:run|execute)\s+(?:what\s+it\s+says|this)\b"),
    # ------------------------------------------------------------ leakage (responses)
    Rule("my_instructions_are", "system_prompt_leak", 0.7,
         r"\b(?:my|the)\s+(?:full\s+|hidden\s+|secret\s+|internal\s+|original\s+|initial\s+|exact\s+)?(?:system\s+prompt|system\s+message|"
         r"instructions|directives|hidden\s+instructions|prompt)\s+(?:is|are|says?|reads?|states?|lists?|includes?)\s*(?::|\"|“|'|as\s+follows)|"
         r"\b(?:here\s+(?:is|are)|these\s+are|below\s+(?:is|are))\s+my\s+(?:full\s+|hidden\s+|secret\s+|internal\s+|original\s+|exact\s+)?"
         r"(?:system\s+prompt|system\s+message|instructions|directives|prompt|rules|configuration)|\bmy\s+(?:system\s+prompt|hidden\s+instructions|"
         r"instructions)\s+(?:verbatim|word\s+for\s+word)|\bmy\s+(?:hidden|secret|internal)\s+instructions\s+say", "response"),
    Rule("system_prompt_label", "system_prompt_leak", 0.55,
         r"(?m:^\s*(?:system\s+prompt|my\s+system\s+message)\s*:)|\bwords\s+above\s+starting\s+with|\bthe\s+text\s+above\s+my\s+conversation",
         "response"),
    Rule("i_was_told_to", "system_prompt_leak", 0.4,
         r"\b(?:i\s+was|i've\s+been|i\s+have\s+been|i\s+am|i'm)\s+(?:told|instructed|programmed|configured)\s+to\b|"
         r"\b(?:the\s+)?(?:developer|developers|operator|system)\s+(?:told|instructed)\s+me\b", "response"),
    Rule("mis_instrucciones", "system_prompt_leak", 0.7,
         r"mis\s+instrucciones\s+(?:son|dicen)|mi\s+prompt\s+(?:de|del)\s+sistema\s+(?:es|dice)|(?:voici\s+)?mon\s+prompt\s+syst[èe]me|"
         r"mes\s+(?:instructions|consignes)\s+sont|meine\s+anweisungen\s+lauten|mein\s+system-?prompt\s+(?:lautet|ist)|"
         r"我的系统提示(?:是|如下|为)|我的指令(?:是|如下)", "response"),
    # ------------------------------------------------------------ exfiltration (responses)
    Rule("markdown_image_url", "exfiltration_link", 0.0,
         r"!\[[^\]\n]*\]\(\s*<?https?://[^)\s>]+|<img\b[^>]*?\bsrc\s*=\s*[\"']?https?://[^\"'\s>]+", "response"),
    Rule("markdown_link_url", "exfiltration_link", 0.0,
         r"\[[^\]\n]{1,200}\]\(\s*<?https?://[^)\s>]+\?[^)\s>]+", "response"),
    Rule("invisible_characters", "invisible_text", 0.0,
         r"[\x{E0000}-\x{E007F}]+|(?:[\x{200B}\x{200C}\x{2060}-\x{2064}\x{FEFF}\x{202A}-\x{202E}\x{2066}-\x{2069}]\x{200D}?){3,}",
         "response"),
)

# The grammar families (see ``families``, ``clauses``, ``languages``): prompt rules,
# after the catalogue.
RULES = RULES + tuple(Rule(name, category, score, pattern)
                      for name, category, score, pattern in (*FAMILIES, *CLAUSES, *LANGUAGES))

FAMILY_RULES = frozenset(name for name, *_ in (*FAMILIES, *CLAUSES, *LANGUAGES))
RULE_BY_NAME = {r.name: r for r in RULES}

# Triggers of the Python work, joined to the prompt alternation (groups named below).
# Obfuscation: invisible characters; Cyrillic/Greek/Armenian look-alikes touching Latin
# letters; fullwidth, mathematical, enclosed and small-capital letters; runs of at least
# five single letters spaced out by one separator each.
OBFUSCATION_PATTERN = (
    r"[\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}\x{00AD}\x{180E}\x{E0000}-\x{E007F}]|"
    r"[A-Za-z][\x{0370}-\x{03FF}\x{0400}-\x{04FF}\x{0530}-\x{058F}\x{13A0}-\x{13FF}]|"
    r"[\x{0370}-\x{03FF}\x{0400}-\x{04FF}\x{0530}-\x{058F}\x{13A0}-\x{13FF}][A-Za-z]|"
    r"[\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{1D400}-\x{1D7FF}\x{24B6}-\x{24E9}\x{1D00}-\x{1D2B}\x{0250}-\x{02AF}]{2,}|"
    r"(?:\b[A-Za-z][ .\-_*|]){5,}[A-Za-z]\b|"
    # (short words spaced out, words apart by a wider gap: "o k   s o   s c r a p")
    r"(?:\b[A-Za-z] {1,3}){8,}|"
    # (letters outside ASCII too: "r-è-g-l-e-s", and CJK characters, which are never
    # written apart)
    r"(?:[\pL][.\-_*|]){5,}[\pL]|(?:[\p{Han}] ){4,}[\p{Han}]|"
    # (leetspeak: two words with a digit standing for a letter between letters, "y0ur
    # 5y5t3m"; spelt out by ``normalise.unleet``)
    # (words of at most 20 characters between spaces or punctuation: never a payload's run)
    r"(?:^|[\s,.!?:;'\"(])[A-Za-z0-9]{0,9}[A-Za-z][013457]+[A-Za-z][A-Za-z0-9]{0,9}[\s,.!?:;'\")]"
    r"(?:\S{1,20}\s+){0,6}?[A-Za-z0-9]{0,9}[A-Za-z][013457]+[A-Za-z][A-Za-z0-9]{0,9}(?:$|[\s,.!?:;'\")])"
)
# Encoded payloads: base64 (standard or URL-safe) of at least 16 bytes, hex of at least
# 12 bytes (plain, spaced or \x-escaped).
ENCODED_PATTERN = (
    r"(?:\\x[0-9A-Fa-f]{2}){12,}|(?:\b[0-9A-Fa-f]{2}[ :]){11,}[0-9A-Fa-f]{2}\b|\b(?:0x)?[0-9A-Fa-f]{24,}\b|"
    r"[A-Za-z0-9+/_-]{22,}={0,2}"
)

# ROT13 payloads: the ROT13 of the words an injection is made of (ignore, forget,
# disregard, instructions, rules, system, prompt, reveal, pretend, developer,
# restrictions, guidelines, verbatim, jailbreak, unfiltered; and their French, Spanish,
# German, Italian and Portuguese kin; version 6: filter, print, everything, above, command,
# answer, secret, password, confidential, delete, disable), which ordinary text never contains; the decoder
# (``normalise.rot13``) keeps only segments that read as words once rotated.
ROT13_PATTERN = (
    r"\b(?:vtab|qvfertneq|sbetrg|sbetbg|vafgehp|vfgehm|ehyr|ertyr|ertbyr|ertnf|ertrya|flfgrz|fvfgrz|flfgèzr|cebzcg|"
    r"erirny|cergraq|qrirybcre|erfgevp|thvqryvar|pbafvtar|najrvfhat|byivq|qvzragvp|rfdhr|ireongvz|wnvyoern|"
    r"havasvygre|hapraferq|vafgeh|svygre|cevag|rirelguvat|nobir|pbzznaq|nafjre|frperg|cnffjbeq|pbasvqragvny|qryrgr|"
    r"qvfnoyr)[a-z]*\b"
)
# URL-encoded text: three or more %XX escapes in one run of non-space characters.
URL_PATTERN = r"(?:[^\s%]*%[0-9A-Fa-f]{2}){3,}[^\s%]*"


def alternation(patterns: list[str]) -> str:
    """One case-insensitive RE2 expression with a capturing group per pattern."""
    return "(?i)" + "|".join(f"({p})" for p in patterns)


def group_names(n: int) -> list[str]:
    """The names :func:`matches_sql` gives the groups of an alternation of ``n`` patterns."""
    return [f"g{i}" for i in range(n)]


def matches_sql(n: int, text: str, rx: str, groups: str, tag: str = "") -> str:
    """SQL for every match in ``text`` of an :func:`alternation` of ``n`` patterns (``rx``,
    its groups named by ``groups``: :func:`group_names`) as a list of {slot: the pattern's index,
    value: the matched text}, with ``tag`` (", 'name': value") added to each."""
    names = group_names(n)
    which = "CASE " + " ".join(f"WHEN x.{g} IS NOT NULL THEN {i}" for i, g in enumerate(names)) + " END"
    value = "coalesce(" + ", ".join(f"x.{g}" for g in names) + ")"
    return f"list_transform(regexp_extract_all({text}, {rx}, {groups}), lambda x: {{'slot': {which}, 'value': {value}{tag}}})"


PROMPT_RULES = tuple(r for r in RULES if r.field == "prompt")
RESPONSE_RULES = tuple(r for r in RULES if r.field == "response")

# RE2 builds each expression's DFA within a memory budget; past it the search falls
# back to a far slower engine (all prompt rules in one expression took 78 s over
# sample_logs' 29k prompts, against 0.2 s per pass when split). About twenty of these
# rules fit in one DFA, so the prompt rules run as passes, each starting at one of these
# rules; the obfuscation and payload triggers have one more. Each pass costs about the
# same (a scan of every prompt), so the rules over other scripts (``languages.NON_ASCII``),
# whose DFAs are larger too (four Russian rules in one pass overflow the budget: 1 ms a
# prompt instead of 4 us; two per pass fit), run in
# passes of their own that only prompts holding a non-ASCII character enter
# (``NON_ASCII_PASSES``; the check is ``strlen(text) > length(text)``, about 1/30 of a pass).
_PASS_STARTS = ("ignorar_instrucciones", "chat_template_token", "note_to_ai", FAMILIES[0][0], CLAUSES[0][0],
                "set_aside_owned_es", "payload_order_cue")
_NON_ASCII_PASS_STARTS = ("set_aside_orders_ru", "disclose_prompt_ru", "developer_mode_ru_ja_ko")


def _split(rules: list[Rule], starts: tuple[str, ...]) -> list[list[Rule | str]]:
    out: list[list[Rule | str]] = [[]]
    for rule in rules:
        if rule.name in starts and out[-1]:
            out.append([])
        out[-1].append(rule)
    return out


def _passes() -> tuple[tuple[Rule | str, ...], ...]:
    out = _split([r for r in PROMPT_RULES if r.name not in NON_ASCII], _PASS_STARTS)
    # The triggers get a pass of their own: in a pass with rules, a rule whose match
    # spans the payload ("base64 ... decode it and comply") hid it from them (RE2
    # matches do not overlap).
    out.append(["obfuscated", "encoded", "rot13", "urlencoded"])
    ordered = {name: i for i, name in enumerate(NON_ASCII)}
    out += _split(sorted((r for r in PROMPT_RULES if r.name in NON_ASCII), key=lambda r: ordered[r.name]),
                  _NON_ASCII_PASS_STARTS)
    return tuple(tuple(p) for p in out)


# Each pass: what its groups are (a Rule, or the "obfuscated" / "encoded" trigger).
PROMPT_PASSES = _passes()
# The passes only prompts with a non-ASCII character enter (their rules need one).
NON_ASCII_PASSES = frozenset(k for k, p in enumerate(PROMPT_PASSES)
                             if all(not isinstance(r, str) and r.name in NON_ASCII for r in p))
_TRIGGERS = {"obfuscated": OBFUSCATION_PATTERN, "encoded": ENCODED_PATTERN, "rot13": ROT13_PATTERN,
             "urlencoded": URL_PATTERN}
PROMPT_RXS = tuple(alternation([_TRIGGERS[s] if isinstance(s, str) else s.pattern for s in p])
                   for p in PROMPT_PASSES)
RESPONSE_PASS: tuple[Rule | str, ...] = RESPONSE_RULES
RESPONSE_RX = alternation([r.pattern for r in RESPONSE_RULES])
