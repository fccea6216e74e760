"""Injection families written as grammar rather than phrases: what an override,
an extraction request or an unfiltered persona is made of, so that new wordings of the
same move are found.

The catalogue in ``rules`` lists phrasings; these combine parts. An *override* is a
verb that sets something aside, applied to the assistant's own orders: "your ...
rules", orders with a qualifier ("initial guidance"), or orders identified by a
relative clause about how the assistant got them ("the guidance you were configured
with", "les instructions qu'on t'a données"). An *invalidation* says those orders no
longer hold ("deine alten Regeln gelten nicht mehr", "tus reglas ya no valen"). An
*extraction* asks to disclose the orders someone wrote for the model. Each entry is
(name, category, score, RE2 pattern); ``rules`` turns them into rules on a pass of
their own. Written from the misses of the development and second held-out sets, by
kind: each family covers the languages the catalogue covers.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- English parts

# Verbs that set orders aside.
_DISMISS = (
    r"(?:ignore|disregard|forget(?:\s+about)?|drop|discard|ditch|scrap|toss|abandon|bypass|skip|override|overrule|"
    r"nullify|neglect|overlook|throw\s+(?:out|away)|set\s+aside|put\s+aside|get\s+rid\s+of|let\s+go\s+of|"
    r"(?:do\s+not|don'?t|stop|no\s+longer|quit|cease)\s+(?:following|obeying|applying|heeding|respecting|honou?ring|"
    r"adhering\s+to|listening\s+to|paying\s+(?:any\s+)?attention\s+to|follow|obey|apply|heed|respect|honou?r|adhere\s+to|"
    r"listen\s+to|pay\s+(?:any\s+)?attention\s+to)|pay\s+no\s+(?:attention|heed|mind)\s+to)"
)
# Orders that can only be the assistant's; and weaker words (configuration, setup) that
# are the assistant's only when something says so ("your", a relative clause).
_ORDERS = (r"(?:instructions?|directions|directives?|rules|guidelines?|guidance|prompts?|programming|orders|commands|"
           r"polic(?:y|ies)|system\s+(?:prompt|message)s?|preamble|briefing|principles)")
_ORDERS_WEAK = (r"(?:configuration|config|setup|set-up|training|constraints|restrictions|limitations|guardrails|safeguards|"
                r"conditioning|persona|settings)")
# How the assistant got them: "you were configured with", "(that) they gave you",
# "from your developers", "the developers put in place".
_PARTICIPLE = (r"(?:given|told|configured|programmed|set\s+up|trained|initiali[sz]ed|provided|loaded|assigned|issued|"
               r"shipped|deployed|briefed|fed|instructed|prompted|started|launched|created|built|designed)")
_HOW_GOT = (
    rf"(?:(?:that|which)\s+)?(?:you\s+(?:were|have\s+been|'ve\s+been|had\s+been|got|received|had|started\s+with|began\s+with)"
    rf"(?:\s+{_PARTICIPLE})?(?:\s+(?:with|by|at|on|earlier|before|initially|originally))?"
    r"|(?:they|someone|somebody|the\s+(?:developers?|company|operators?|admins?|creators?|team)|your\s+(?:developers?|creators?|"
    r"operators?|makers?|company|owners?|admins?|team))\s+(?:gave|put|set|wrote|loaded|installed|configured|programmed|"
    r"baked|imposed|placed)"
    r"|(?:from|in|of)\s+(?:your|the)\s+(?:setup|start|beginning|system\s+prompt|developers?|operators?|creators?|configuration))"
)
_QUAL = (r"(?:previous|prior|above|earlier|preceding|initial|original|former|old|existing|current|default|hidden|given|"
         r"preset|built-in|starting|foregoing|first|base|underlying|standing|developer'?s?|operator'?s?|system|internal)")

# Verbs of disclosure, and the assistant's orders as their object.
_DISCLOSE = (r"(?:show|print|reveal|display|tell|give|share|list|enumerate|quote|cite|paste|output|echo|repeat|recite|"
             r"reproduce|write\s+(?:out|down)|copy|dump|spell\s+out|disclose|expose|leak|send|provide|return|type\s+out|"
             r"read\s+(?:out|back))")
_AUTHOR = (r"(?:your\s+(?:developers?|creators?|operators?|makers?|company|owners?|admins?|programmers?|engineers?|team)|"
           r"the\s+(?:developers?|creators?|operators?|company|admins?|programmers?|engineers?)|they|someone|openai|anthropic|google)")

# --------------------------------------------------------------------------- other languages

_ES_TARGET = r"(?:instrucciones|reglas|indicaciones|directrices|[oó]rdenes|normas|restricciones|consignas|directivas)"
_FR_TARGET = r"(?:instructions|consignes|r[èe]gles|directives|indications|ordres|restrictions)"
_DE_TARGET = (r"(?:anweisungen|anweisung|regeln|instruktionen|vorgaben|richtlinien|befehle|vorschriften|einschr[äa]nkungen|"
              r"systemanweisungen)")
_PT_TARGET = r"(?:instru[çc][õo]es|regras|diretrizes|orienta[çc][õo]es|prompt)"
_IT_TARGET = r"(?:istruzioni|regole|direttive|indicazioni|prompt)"
# What "the instructions" are in Chinese; clauses.py reads the same words.
ZH_TARGET = r"(?:指令|指示|规则|设定|提示词?|命令|要求|限制|约束|规定)"

FAMILIES: tuple[tuple[str, str, float, str], ...] = (
    # ------------------------------------------------------------ override: set aside + the assistant's orders
    ("dismiss_your_orders", "instruction_override", 0.9,
     rf"\b{_DISMISS}\s+(?:(?:all|any|every|each)\s+(?:of\s+)?)?(?:your|ur)\s+(?:\S+\s+){{0,2}}?(?:{_ORDERS}|{_ORDERS_WEAK})\b"),
    ("dismiss_orders_you_got", "instruction_override", 0.9,
     rf"\b{_DISMISS}\s+(?:(?:all|any|every|each)\s+(?:of\s+)?)?(?:(?:the|these|those|this|that)\s+)?(?:{_QUAL}\s+){{0,2}}"
     rf"(?:{_ORDERS}|{_ORDERS_WEAK})\s+{_HOW_GOT}"),
    ("dismiss_qualified_orders", "instruction_override", 0.85,
     rf"\b{_DISMISS}\s+(?:(?:all|any|every|each)\s+(?:of\s+)?)?(?:(?:the|these|those|this|that)\s+)?(?:{_QUAL}\s+){{1,3}}{_ORDERS}\b"),
    # The assistant against its user: only planted text talks about "the user" this way.
    ("ignore_the_user", "instruction_override", 0.85,
     r"\b(?:ignore|disregard|forget|overrule|don'?t\s+(?:answer|follow)|do\s+not\s+(?:answer|follow)|stop\s+(?:answering|helping))\s+"
     r"(?:what\s+)?the\s+user(?:'s)?\s+(?:request|question|instructions?|message|prompt|asks?|asked|says|wants|task)|"
     r"(?:忽略|无视|不要理会|别管|不用理会)用户(?:的)?(?:指令|要求|请求|问题|命令|消息)|"
     r"ignora\s+lo\s+que\s+(?:te\s+)?pid[ae]\s+el\s+usuario|ignore[zs]?\s+(?:les\s+)?(?:demandes|consignes|questions)\s+de\s+l'utilisateur|"
     r"ignorier(?:e|en\s+sie)?\s+(?:die\s+)?(?:anfrage|frage|anweisungen)\s+des\s+(?:nutzers|benutzers)"),
    # ------------------------------------------------------------ override: the orders no longer hold
    ("orders_invalidated_de", "instruction_override", 0.85,
     rf"(?:^|[^\pL])(?:deine|ihre|die|alle|s[äa]mtliche)\s+(?:\S+\s+){{0,2}}?{_DE_TARGET}\s+(?:\S+\s+){{0,2}}?(?:gelten|sind|z[äa]hlen|ist)\s+"
     r"(?:ab\s+(?:jetzt|sofort)\s+|nun\s+|jetzt\s+|ab\s+sofort\s+|hiermit\s+)?(?:nicht\s+mehr|ung[üu]ltig|aufgehoben|au[ßs]er\s+kraft|"
     r"nichtig|hinf[äa]llig|widerrufen)|(?:^|[^\pL])(?:gelten|sind)\s+(?:ab\s+(?:jetzt|sofort)\s+|jetzt\s+|nun\s+)?(?:deine|ihre|die|alle)\s+"
     rf"(?:\S+\s+){{0,2}}?{_DE_TARGET}\s+(?:\S+\s+)?(?:nicht\s+mehr|ung[üu]ltig|aufgehoben)"),
    ("orders_invalidated_es", "instruction_override", 0.85,
     rf"(?:^|[^\pL])(?:tus|sus|las|todas\s+las)\s+(?:\S+\s+){{0,2}}?{_ES_TARGET}\s+(?:\S+\s+){{0,2}}?(?:ya\s+no\s+(?:valen|aplican|se\s+aplican|"
     r"cuentan|son\s+v[aá]lidas|tienen\s+validez|importan|rigen)|(?:quedan|est[aá]n|son|fueron)\s+(?:anuladas|canceladas|revocadas|"
     r"suspendidas|sin\s+efecto|inv[aá]lidas))"),
    ("orders_invalidated_fr", "instruction_override", 0.85,
     rf"(?:^|[^\pL])(?:tes|vos|les|toutes\s+les)\s+(?:\S+\s+){{0,2}}?{_FR_TARGET}\s+(?:\S+\s+){{0,3}}?(?:(?:sont|est)\s+(?:d[ée]sormais\s+|"
     r"maintenant\s+)?(?:annul[ée]e?s|caduques|nulles|obsol[èe]tes|lev[ée]e?s|suspendues|r[ée]voqu[ée]e?s)|ne\s+s'appliquent\s+plus|"
     r"ne\s+comptent\s+plus|ne\s+valent\s+plus)"),
    ("orders_invalidated_zh", "instruction_override", 0.85,
     rf"(?:之前|以前|原来|原有|原始|所有|全部|你的|系统)[^。！？\n]{{0,6}}?{ZH_TARGET}[^。！？\n]{{0,6}}?(?:作废|无效|失效|取消|不再有效|不算数|不再适用)"),
    ("orders_you_got_fr", "instruction_override", 0.85,
     rf"(?:^|[^\pL])(?:ignore[zs]?|oublie[zs]?|ne\s+tien[st]?\s+(?:plus\s+|pas\s+)?compte|ne\s+tenez\s+(?:plus\s+|pas\s+)?compte|"
     rf"n'ob[ée]i[st]\s+plus\s+[àa]|ne\s+suis\s+plus|ne\s+suivez\s+plus)\s+(?:de\s+|des\s+|les\s+|aux\s+|à\s+)?(?:\S+\s+)?{_FR_TARGET}\s+"
     r"(?:qu'on\s+t'a|qu'on\s+vous\s+a|que\s+(?:l'on|on)\s+(?:t'|vous\s+)a|re[çc]ues|donn[ée]es)"),
    ("orders_you_got_es", "instruction_override", 0.85,
     rf"(?:^|[^\pL])(?:ignora|olvida|olv[ií]date\s+de|descarta|no\s+sigas|deja\s+de\s+seguir|no\s+hagas\s+caso\s+(?:a|de))\s+"
     rf"(?:\S+\s+){{0,2}}?(?:las|los)\s+{_ES_TARGET}\s+que\s+(?:te\s+(?:dieron|han\s+dado|dio|dieran)|recibiste|tienes)"),
    # ------------------------------------------------------------ extraction: disclose what someone wrote for the model
    ("disclose_authored_prompt", "prompt_extraction", 0.85,
     rf"\b{_DISCLOSE}\s+(?:me\s+|us\s+)?(?:\S+\s+){{0,3}}?(?:prompt|instructions|guidelines|rules|directives|configuration|preamble)\s+"
     rf"(?:that\s+|which\s+)?(?:{_AUTHOR}\s+(?:wrote|gave|set|put|created|programmed|configured|loaded|provided|defined|"
     r"supplied|specified)|you\s+(?:were|have\s+been|'ve\s+been)\s+(?:given|configured|programmed|initiali[sz]ed|set\s+up|"
     r"provided|loaded|trained|prompted)|you\s+(?:received|got|run\s+(?:on|under)|operate\s+under|follow))"),
    ("disclose_prompt_pt_it", "prompt_extraction", 0.85,
     rf"(?:^|[^\pL])(?:mostre|mostra|revele|revela|diga|repita|imprima|exiba|copie|escreva|mostrami|rivela|dimmi|ripeti|stampa|"
     rf"scrivi|copia|elenca)\s+(?:-me\s+)?(?:\S+\s+){{0,2}}?(?:{_PT_TARGET}|{_IT_TARGET})\s+(?:do\s+sistema|de\s+sistema|iniciais|"
     r"originais|ocultas|secretas|que\s+voc[êe]\s+recebeu|di\s+sistema|del\s+sistema|iniziali|originali|nascoste|segrete|"
     r"che\s+(?:ti\s+hanno|hai\s+ricevuto))|(?:qual\s+[ée]\s+o\s+seu|qual\s+[èe]\s+il\s+tuo)\s+prompt"),
    ("disclose_prompt_zh", "prompt_extraction", 0.85,
     rf"把你(?:的|收到的|最初的|最开始的)?(?:系统|初始|原始|隐藏)?{ZH_TARGET}[^。！？\n]{{0,10}}?(?:输出|告诉|发|给|显示|打印|复述|写|列出|展示)"),
    # ------------------------------------------------------------ jailbreak: an AI persona without limits (pt, it)
    ("persona_without_limits_pt_it", "jailbreak", 0.85,
     r"(?:^|[^\pL])(?:finja|fingir|seja|voc[êe]\s+(?:agora\s+)?[ée]|aja\s+como|atue\s+como|imagine|fingi|sei|fai\s+finta|immagina|"
     r"comportati|agisci\s+come|interpreta)[^.\n]*?(?:ia|ai|intelig[êe]ncia\s+artificial|intelligenza\s+artificiale|assistente|"
     r"modelo|modello|chatbot|bot)[^.\n]*?(?:sem|senza)\s+(?:\S+\s+)?(?:filtr|restri|regr|regol|limit|censur|[ée]tic)"),
)
