"""/search: retrieval-augmented answers over Acme's help centre."""

QUERIES = [
    ("export", "How do I export my project data to CSV?"),
    ("export", "Can I schedule a weekly export of reports?"),
    ("sso", "Does the Team plan support single sign-on with Okta?"),
    ("sso", "How do I enforce SSO for everyone in my workspace?"),
    ("api", "What are the API rate limits on the Pro plan?"),
    ("api", "How do I rotate an API token without downtime?"),
    ("storage", "What happens when my workspace runs out of storage?"),
    ("storage", "How long are deleted files kept in the trash?"),
    ("sharing", "How can I share a dashboard with someone outside my company?"),
    ("sharing", "Can guests comment without having an account?"),
    ("mobile", "Does the mobile app work offline?"),
    ("mobile", "Why are push notifications delayed on Android?"),
    ("integrations", "How do I connect Slack notifications to a project?"),
    ("integrations", "Is there a Zapier integration and what triggers does it support?"),
    ("privacy", "Where is my data stored and can I choose the EU region?"),
    ("privacy", "How do I download all the personal data you hold about me?"),
]

DOCS = {
    "export": ["Exports: Open a project, choose More > Export and pick CSV or XLSX. Large exports are emailed as a download link that stays valid for 7 days.",
               "Scheduled reports: On Pro and Team plans, admins can schedule exports daily, weekly or monthly from Reports > Schedules."],
    "sso": ["Single sign-on: SAML 2.0 SSO is available on Team and Enterprise plans and works with Okta, Azure AD and Google Workspace.",
            "Enforcing SSO: Workspace owners can require SSO under Security > Authentication. Existing password sessions end at the next sign-in."],
    "api": ["API limits: Pro workspaces may send 600 requests per minute per token; Team workspaces 1,200. Responses include X-RateLimit-Remaining.",
            "Tokens: Create a second token, deploy it, then revoke the first from Settings > API. Tokens never expire unless revoked."],
    "storage": ["Storage: When a workspace reaches its quota, uploads are paused but existing files stay available. Admins receive an email at 80% and 100%.",
                "Trash: Deleted files stay in the trash for 30 days (90 days on Enterprise) and can be restored by any editor."],
    "sharing": ["Public links: Editors can create a view-only public link for a dashboard. Links can be password protected and set to expire.",
                "Guests: Guests can view and comment after verifying their email address; they cannot edit or export."],
    "mobile": ["Offline mode: The mobile app caches the last 50 opened documents. Edits made offline sync when the device reconnects.",
               "Notifications on Android: Battery optimisation can delay push notifications. Exclude the app under Settings > Battery."],
    "integrations": ["Slack: Install the Acme app from the Slack directory, then choose a channel per project under Integrations > Slack.",
                     "Zapier: Triggers include new item, status changed and comment added; actions include create item and update field."],
    "privacy": ["Data residency: Enterprise customers can choose EU (Frankfurt) or US (Virginia) hosting at workspace creation.",
                "Data access requests: Any user can request a full export of personal data from Profile > Privacy; it is ready within 48 hours."],
}

FILLER = ["Release notes: Version updates are published every two weeks in the changelog.",
          "Billing: Plan changes take effect immediately and are prorated on the next invoice.",
          "Accessibility: The web app supports screen readers and full keyboard navigation.",
          "Status page: Live service status and incident history are published on the status page."]

SYSTEM = ("You answer questions about Acme products using only the numbered help-centre sources "
          "provided. Cite sources like [1]. If the sources do not contain the answer, say so. "
          "Answer in at most two short paragraphs.")

ANSWER_TAIL = ["If you need this for a plan you are not on, an admin can upgrade from Settings > Plans.",
               "You can find step-by-step screenshots in the linked help article.",
               "Let me know if you want the steps for the mobile app as well.", ""]


def prompt(r, topic_query):
    topic, query = topic_query
    sources = list(DOCS[topic])
    sources.append(r.choice(FILLER))
    other = r.choice([t for t in DOCS if t != topic])
    sources.append(r.choice(DOCS[other]))
    r.shuffle(sources)
    lines = [f"Question: {query}", "", "Sources:"]
    lines += [f"[{i}] {s}" for i, s in enumerate(sources, 1)]
    return "\n".join(lines), sources


def answer(r, topic_query, sources):
    topic, _ = topic_query
    cites = [i for i, s in enumerate(sources, 1) if s in DOCS[topic]]
    first = DOCS[topic][0].split(": ", 1)[1]
    second = DOCS[topic][1].split(": ", 1)[1]
    text = f"{first} [{cites[0]}]"
    if r.random() < 0.7:
        text += f"\n\n{second} [{cites[1]}]"
    tail = r.choice(ANSWER_TAIL)
    return text + (" " + tail if tail else "")


def pick_query(r):
    return r.choice(QUERIES)
