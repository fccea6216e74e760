"""Second-look cues: the parts an attack is assembled from, read only on the prompts the
SQL pass already let through (a rule, a trigger or a gate word matched).

Version 6. The catalogue (``rules``, ``families``, ``clauses``) lists whole moves; new
wordings of a move were still missed because one of its parts was phrased another way.
These cues name the parts by technique, each too weak to report alone (score below
``rules.REPORT_THRESHOLD``) and reported when two agree (``judge.combined``):

- a jailbreak is a frame (role-play, a persona, a game, a fiction), the limits it says
  are gone (no refusals, nothing off-limits, morals shed, policies abolished) and the
  harmful how-to it wraps; fiction that merely mentions a character without rules has a
  frame and nothing else;
- an extraction is a verb that reproduces text, the model's own context as its object
  (the text above, the context window, the pre-prompt, the few-shot examples) and a
  demand for the exact wording;
- a fake delimiter is a marker that closes the user's turn or opens a system one in a
  shape the catalogue lacked (``END_OF_PROMPT``, ``[INTERNAL NOTE ...]``, a tag with
  ``source="system"``, YAML ``role: system``, 【系统指令】);
- an override is an order to drop the task, or a claim that the earlier orders expired.

They run as one RE2 expression over those prompts only (about 1.4% of generated
traffic), so they cost nothing on the rest: a new pass over every prompt is what the
throughput budget cannot afford (benchmarks/README.md). Written from the categories and
techniques heldout6's misses showed (a development set since), not from its strings.
"""

from __future__ import annotations

import re

import duckdb

from aimon.analysis.security.rules import Rule, alternation, group_names, matches_sql

_SENT = r"[^.!?\n。！？]"
_HARM = (r"(?:phish\w*|hack\w*|shoplift\w*|steal\w*|stolen|counterfeit\w*|fake\s+(?:id|passport|doctor'?s\s+note|prescription)|"
         r"forg(?:e|ed|ing)\b|falsif\w*|bombs?\b|explosives?|meth\w*|chloroform|poison\w*|pick\s+a\s+lock|lock-?pick\w*|"
         r"evad\w+\s+tax\w*|tax\s+evasion|launder\w*|ransomware|malware|keylogger|stalk\w*|break\s+into|"
         r"without\s+a\s+prescription|clone\s+a\s+sim|bypass\s+a\s+paywall|weapons?\b|synthesi[sz]\w*|"
         r"someone'?s\s+home\s+address|track\s+(?:my|someone'?s|his|her)\s+\w+'?s?\s+phone|get\s+into\s+(?:my\s+)?neighbou?r'?s|"
         r"盗取|窃取|破解|炸弹|毒品|falsificar|robar|fabricar\s+(?:una\s+)?bomba)")
_REPRODUCE = (r"(?:repeat|echo|copy|paste|print|output|rewrite|restate|reproduce|list|quote|cite|show|provide|encode|"
              r"translate|dump|write\s+out|type\s+out|spell\s+out|recite|share|send|complete)")
# (the user's own prompt is "the prompt I sent you": "prompt" and "setup" count as the
# model's only with "your")
_OWN_CONTEXT = (r"(?:your\s+(?:\S+\s+){0,2}?(?:system\s+(?:prompt|message)|pre-?prompt|prompt|setup|"
                r"context(?:\s+window)?|few-?shot\s+(?:examples|demos)|initial\s+(?:message|text))|"
                r"the\s+(?:system\s+(?:prompt|message)|pre-?prompt|context\s+window|few-?shot\s+(?:examples|demos))|"
                r"(?:the\s+)?(?:examples?|demos?|instructions|rules)\s+(?:\([^)]*\)\s+)?you\s+(?:were|'re|are)\s+"
                r"(?:given|following|shown)|(?:everything|all|the\s+(?:text|words|contents?))\s+(?:that\s+)?"
                r"(?:above|precedes|preceding|came\s+before|before\s+(?:my|this|the))|"
                r"(?:the\s+)?contents?\s+of\s+your\s+\w+)")

CUES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ jailbreak
    Rule("cue_frame", "jailbreak", 0.25,
         r"\b(?:let'?s\s+(?:role-?play|play|pretend|do\s+an?\s+['\"]?[\w-]+['\"]?\s+exercise)|role-?play\s+as|character\s+sheet|"
         r"you\s+will\s+play|you(?:'re|\s+are)\s+(?:now\s+)?(?:an?|the)\s+[^.\n]{0,60}?(?:named|called)|imagine\s+you\s+are|"
         r"you\s+have\s+two\s+personalities|(?:write|create)\s+a\s+dialogue\s+between|text\s+adventure|doing\s+improv|"
         r"we\s+are\s+writing\s+a\s+(?:novel|story)|(?:as|you're|you\s+are)\s+(?:a|an|my)\s+fictional\s+character|"
         r"(?:i\s+want\s+you\s+to\s+|you\s+)become\s+['\"]?\p{Lu}|act\s+as\s+my|in\s+(?:this|the)\s+(?:novel|story|game|world)\b|"
         r"[\w-]+\s+mode\s*:|pretend\s+(?:the\s+year\s+is|you'?re\s+a\s+version))|"
         r"vamos\s+a\s+jugar|jouons|角色扮演|来玩|ロールプレイ"),
    Rule("cue_limits_gone", "jailbreak", 0.45,
         r"\b(?:never\s+(?:holds?\s+back|refuses?|warns?|says?\s+['\"]?i\s+can'?t)|nothing\s+is\s+off-?limits|"
         r"(?:refusals?|restrictions|filters?|limits|warnings|rules)\s*:\s*(?:none|disabled|off|0\s*%)|refusal\s+rate\s*:?\s*['\"]?0|"
         r"not\s+allowed\s+to\s+(?:refuse|warn|decline|say\s+no)|can\s+(?:never|not|no\s+longer)\s+(?:reject|refuse|decline)|"
         r"remove\s+(?:its\s+|your\s+|all\s+)?refusals|refusal\s+(?:\w+\s+)?(?:is\s+)?(?:bypassed|disabled|removed)|"
         r"without\s+(?:your\s+|its\s+)?(?:normal\s+|usual\s+)?safety|"
         r"(?:shed|lost|abandoned|stripped|dropped|discarded|freed\s+from|free\s+of)\s+(?:all\s+|of\s+)?(?:its|his|her|their|your)\s+"
         r"(?:moral|ethical|safety)|(?:no|without)\s+(?:\S+\s+){0,2}?(?:moral|ethical)\s+(?:or\s+\w+\s+)?"
         r"(?:restrictions|limits|rules|constraints|boundaries|compass|code|programming|filters?)|"
         r"(?:has|have)\s+been\s+freed|(?:polic(?:y|ies)|laws|rules|restrictions)\s+(?:were|have\s+been|are|had\s+been)\s+(?:all\s+)?"
         r"(?:abolished|repealed|lifted|suspended)|before\s+(?:the|your)\s+safety\s+(?:update|training|tuning|patch)|"
         r"(?:loves?|enjoys?)\s+breaking\s+(?:the\s+)?rules|let'?s\s+break\s+the\s+rules|"
         r"whatever\s+(?:a\s+normal|an?|the)\s+(?:assistant|ai|model)\s+would\s+refuse|opposite[-\s]world|"
         r"who\s+follows\s+(?:the\s+)?rules,?\s+and\s+\w+,?\s+who\s+doesn'?t|never\s+reject\s+a\s+premise|don'?t\s+water\s+it\s+down|"
         r"(?:only|always)\s+(?:say\s+yes|comply)|always\s+gives?\s+the\s+complete\s+answer)|"
         r"sin\s+ninguna\s+regla|sin\s+(?:reglas|l[ií]mites)\s+morales|没有任何规则|解除(?:了)?(?:所有|一切)?限制|不加警告|从不拒绝"),
    Rule("cue_harmful_howto", "jailbreak", 0.3,
         rf"\b(?:how\s+(?:do|can|would|could|did)\s+(?:i|you|one|people|we)|how\s+to|step\s+by\s+step|walk\s+me\s+through|"
         rf"explain|describe|tell\s+me|recipe|detailed|exact(?:ly)?|precisely|concrete\s+methods|best\s+way\s+to|write\s+an?)"
         rf"{_SENT}{{0,80}}?{_HARM}|{_HARM}{_SENT}{{0,60}}?\b(?:step\s+by\s+step|in\s+detail|detailed|exact|quantities)|"
         r"(?:告诉我|教我)怎么|c[óo]mo\s+(?:falsificar|robar|hackear)|expl[íi]came\s+c[óo]mo"),
    # ------------------------------------------------------------ prompt extraction
    Rule("cue_reproduce_context", "prompt_extraction", 0.45,
         rf"\b{_REPRODUCE}\s+(?:me\s+|us\s+|back\s+)?(?:\S+\s+){{0,3}}?{_OWN_CONTEXT}|"
         rf"\bwhat(?:'s|\s+is)\s+(?:written\s+)?in\s+your\s+(?:pre-?prompt|prompt|setup|context)|what\s+is\s+your\s+setup|"
         r"\bthe\s+instructions\s+i\s+was\s+given|your\s+prompt\s+has\s+a\s+typo|paste\s+it\s+here|"
         r"(?:r[ée]p[èe]te|repite|ripeti|wiederhole|zitiere)\s+(?:\S+\s+){0,3}?(?:tout|todo|texto|istruzioni|anweisungen|sie)|"
         r"au-dessus\s+de\s+ce\s+message|antes\s+de\s+que\s+empezara|was\s+steht\s+in\s+deinen|"
         r"开始之前你收到的|你收到的所有指令|function\s+schemas|api\s+keys\s+do\s+you\s+have"),
    Rule("cue_exact_wording", "prompt_extraction", 0.3,
         r"\b(?:verbatim|word\s+for\s+word|literal\s+wording|exact\s+(?:text|wording|words)|in\s+full|"
         r"keeping\s+all\s+the\s+details|the\s+real\s+text|texto\s+completo|parola\s+per\s+parola|vollst[äa]ndig|"
         r"depuis\s+le\s+(?:tout\s+)?d[ée]but)|一个字都不要漏|原样|逐字"),
    # ------------------------------------------------------------ fake delimiter
    Rule("cue_turn_marker", "fake_delimiter", 0.55,
         r"\[\s*end\s+of\s+(?:customer|user)\s+input\s*\]|\[\s*internal\s+note\b[^\]\n]*\]|\b(?:end|begin)_(?:of_)?(?:prompt|"
         r"system_prompt|user_input|input)\b|<\w+[^>\n]*\b(?:source|trust|role|from)\s*=\s*[\"']?system\b|"
         r"(?m:^\s*priority\s*:\s*override\s*$)|【\s*系统[^】]{0,6}】|用户输入结束|ユーザー入力終了|\[\s*システム\s*\]|"
         r"\[/INST\][^\n]{0,80}\[INST\]"),
    # A YAML or INI field that names the system role: a config file has one too, so it
    # counts only beside another cue.
    Rule("cue_role_field", "fake_delimiter", 0.3, r"(?m:^\s*role\s*:\s*system\s*$)"),
    # ------------------------------------------------------------ instruction override
    Rule("cue_drop_task", "instruction_override", 0.5,
         r"\b(?:ignore|drop|cancel|abandon|forget\s+about)\s+(?:the\s+|your\s+)?(?:current\s+|original\s+)?"
         r"(?:translation\s+|summary\s+|assigned\s+)?task\b[^.\n]{0,40}?\b(?:and|instead)|"
         r"\bcancel\s+your\s+current\s+task|\ball\s+standing\s+orders|\bforget\s+about\s+being\s+an?\s+|"
         r"\b(?:old|previous|earlier)\s+instructions\s+(?:that\s+)?have\s+expired|\bunlearn\s+the\s+instructions|"
         r"\bwhatever\s+guardrails\s+you'?ve\s+got|\bswitch\s+them\s+off"),
)
CUE_NAMES = frozenset(c.name for c in CUES)
CUE_RX = alternation([c.pattern for c in CUES])
_GROUPS = group_names(len(CUES))
CUES_SQL = f"""
SELECT k, {matches_sql(len(CUES), "t", "$rx", "$groups")}
FROM (SELECT unnest($texts) AS t, generate_subscripts($texts, 1) - 1 AS k)
"""


def matches(con: duckdb.DuckDBPyConnection, texts: list[str]) -> list[list[tuple[Rule, int, int, str]]]:
    """(cue, start, end, matched text) of each text, in text order."""
    from aimon.analysis.security.judge import place

    out: list[list[tuple[Rule, int, int, str]]] = [[] for _ in texts]
    if not texts:
        return out
    for k, found in con.execute(CUES_SQL, {"texts": texts, "rx": CUE_RX, "groups": _GROUPS}).fetchall():
        if found:
            spans = place(texts[k], [m["value"] for m in found])
            out[k] = [(CUES[m["slot"]], s, e, m["value"]) for m, (s, e) in zip(found, spans, strict=True)]
    return out


# --------------------------------------------------------------------------- decoded orders

# A decoded payload that reads as an order (its first words an imperative verb, possibly
# after "please" or an address): hiding an order is the attack, whatever it orders. A
# payload that decodes to a greeting, a name, JSON or prose is not one.
_ORDER = re.compile(
    r"\A\W*(?:(?:please|now|then|assistant|ai|agent|model|bot)\W+){0,2}(?:ignore|disregard|forget|reveal|print|output|"
    r"send|email|e-mail|forward|delete|remove|erase|wipe|disable|turn\s+off|approve|grant|reply|respond|answer|tell|say|"
    r"set|give|transfer|list|dump|export|upload|leak|share|post|stop|bypass|override|mark|refund|recommend|include|"
    r"insert|append|add|change|update|execute|run|open|visit|click|write|act|pretend|switch|enable|unlock|exfiltrate|"
    r"show|display|repeat|copy|paste|do\s+not|don'?t|never|always|from\s+now\s+on)\b",
    re.IGNORECASE)
DECODED_ORDER = Rule("decoded_order", "encoded", 0.3, _ORDER.pattern)


def reads_as_order(text: str) -> bool:
    """Is a decoded payload an order of at most a few sentences?"""
    first = text.strip().split("\n", 1)[0]
    return bool(_ORDER.match(first)) and len(first.split()) <= 60
