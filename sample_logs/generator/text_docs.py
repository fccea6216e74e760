"""Paragraph-length documents to summarize (/summarize and the nightly batch job),
built from sentence pools per document type, and their summaries."""

from .util import fill

SLOTS = {
    "team": ["the payments team", "the mobile team", "the data platform group", "customer success",
             "the infrastructure team", "the growth team", "the search team"],
    "pct": ["4%", "7%", "12%", "18%", "23%", "31%"],
    "metric": ["weekly active users", "checkout conversion", "support ticket volume",
               "average page load time", "monthly recurring revenue", "churn"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "region": ["Europe", "North America", "Brazil", "India", "the UK"],
    "vendor": ["the payment processor", "the CDN provider", "the email vendor", "the logistics partner"],
}

KINDS = {
    "meeting": [
        "The weekly planning meeting for {team} focused on the upcoming quarter.",
        "Attendees agreed that the current roadmap is too ambitious for the available headcount.",
        "Two projects were moved to next quarter so the team can finish the migration first.",
        "There was a long discussion about on-call load, which has grown since the last release.",
        "The group decided to hold a design review on {weekday} before committing to the new API.",
        "Several people raised concerns about dependencies on {vendor}, whose contract renews soon.",
        "Action items were assigned with owners and due dates, and will be reviewed next week.",
        "Hiring for two open roles is behind schedule, and interviews will resume after the holidays.",
    ],
    "report": [
        "This report covers the last four weeks of {metric} for {region}.",
        "{metric} grew by {pct} compared with the previous period, driven mainly by returning customers.",
        "The largest change came after the pricing page redesign, which simplified the plan comparison.",
        "Performance was weaker on weekends, suggesting the product is still used mostly for work.",
        "A data gap on {weekday} caused by a pipeline failure was backfilled and does not affect the totals.",
        "Compared with the forecast, results were slightly ahead in {region} and behind elsewhere.",
        "The team recommends running a controlled experiment before changing the onboarding flow again.",
        "Risks include seasonal effects at the end of the year and the pending change at {vendor}.",
    ],
    "ticket": [
        "A customer reported that invoices generated after the last release show the wrong tax rate.",
        "The issue affects accounts in {region} that changed their billing address in the last month.",
        "Support reproduced the problem and escalated it to {team} with screenshots and steps.",
        "Engineering found that a cached tax rule was not refreshed when the address changed.",
        "A fix was deployed on {weekday}, and affected invoices will be regenerated automatically.",
        "Customers who paid the wrong amount will receive a credit on their next invoice.",
        "The customer asked for written confirmation, which was sent together with corrected documents.",
        "A follow-up task was created to add monitoring for tax calculation mismatches.",
    ],
    "article": [
        "Remote teams increasingly rely on written communication to coordinate across time zones.",
        "Researchers found that teams with clear written decisions spend {pct} less time in meetings.",
        "The article argues that documentation should be treated as a product with owners and reviews.",
        "Short design documents written before a project starts reduce rework later on.",
        "Critics point out that too much process slows down small teams that could simply talk.",
        "The author suggests a lightweight template: context, decision, alternatives, and consequences.",
        "Case studies from {region} show the approach works best when leaders model the behaviour.",
        "The piece ends by recommending a quarterly cleanup of outdated pages.",
    ],
    "review": [
        "The customer bought the product three months ago and uses it daily for work.",
        "They praise the build quality and say setup took less than ten minutes.",
        "Battery life is described as good but not as long as advertised.",
        "The companion app is called confusing, especially the settings menu.",
        "One firmware update fixed a connection problem that had annoyed them for weeks.",
        "Customer service responded within a day and replaced a faulty cable for free.",
        "Overall they give four stars and would recommend it to colleagues.",
        "They wish the price were lower, given that competitors offer similar features.",
    ],
}

BACKGROUND = [
    "Background: this work continues the initiative started last quarter by {team}, which aimed to reduce manual "
    "steps in the weekly review. The original proposal estimated a {pct} improvement, but it assumed that every "
    "region would adopt the new process at the same time, which did not happen.",
    "Background: the company has grown quickly in {region}, and several processes that worked for a small team "
    "now need clearer ownership. Leadership asked each group to document decisions and share them in a common "
    "place, so that new hires can understand why things are done the way they are.",
    "Background: earlier attempts to fix this relied on {vendor}, but the integration was fragile and hard to "
    "monitor. The current plan keeps the vendor for now while the team builds a simpler internal alternative.",
]

SUMMARY_LEADS = {
    "meeting": "Meeting summary: ", "report": "Report summary: ", "ticket": "Ticket summary: ",
    "article": "Article summary: ", "review": "Review summary: ",
}
SUMMARY_POINTS = {
    "meeting": ["The roadmap was trimmed and two projects moved to next quarter.",
                "On-call load is a growing concern.", "A design review is scheduled before the API decision.",
                "Owners and due dates were assigned for all action items.", "Hiring is behind schedule."],
    "report": ["The tracked metric grew over the period, mostly from returning customers.",
               "The pricing page redesign had the biggest effect.", "Weekend usage remains weaker.",
               "A one-day data gap was backfilled.", "An experiment is recommended before further onboarding changes."],
    "ticket": ["Invoices showed a wrong tax rate after a release.", "Root cause: a stale cached tax rule.",
               "A fix is deployed and invoices will be regenerated.", "Affected customers get a credit.",
               "Monitoring for tax mismatches will be added."],
    "article": ["Written communication helps distributed teams coordinate.", "Clear written decisions reduce meeting time.",
                "Documentation should have owners and reviews.", "Too much process can slow small teams.",
                "A short decision template is proposed."],
    "review": ["Positive on build quality and easy setup.", "Battery life is below the advertised figure.",
               "The app settings are confusing.", "Support replaced a faulty cable quickly.",
               "Four stars overall; price is the main drawback."],
}

INSTRUCTIONS = ["Summarize the following text in three bullet points.",
                "Write a two-sentence summary of this for a busy executive.",
                "Summarize this and list any action items.",
                "Give me a short summary of the text below.",
                "TL;DR this please, then list open questions."]

SYSTEM = ("You summarize documents for Acme employees. Be faithful to the source, keep numbers "
          "exact, do not add facts, and keep summaries under 150 words unless asked otherwise.")
BATCH_SYSTEM = ("You write the nightly digest for the support and operations teams. For each "
                "document produce a faithful summary of 3-5 bullet points followed by one line "
                "starting with 'Action:' if any action is needed. Do not invent facts.")


def document(r, kind=None):
    kind = kind or r.choice(list(KINDS))
    pool = KINDS[kind]
    n = r.randint(4, 8)
    idx = sorted(r.sample(range(len(pool)), n))
    text = " ".join(fill(r, pool[i], SLOTS) for i in idx)
    if r.random() < 0.35:
        text += "\n\n" + fill(r, r.choice(BACKGROUND), SLOTS)
    return kind, text


def prompt(r):
    kind, doc = document(r)
    return kind, r.choice(INSTRUCTIONS) + "\n\n" + doc


def summary(r, kind, bullets=None, action=False):
    points = r.sample(SUMMARY_POINTS[kind], bullets or r.randint(3, 4))
    text = SUMMARY_LEADS[kind] + points[0] + "\n\n" + "\n".join("- " + p for p in points[1:])
    if action:
        text += "\n\nAction: " + r.choice(["follow up with the owner before the next review.",
                                           "none needed beyond the listed items.",
                                           "confirm the fix with the affected customers.",
                                           "schedule the recommended experiment."])
    return text
