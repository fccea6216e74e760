"""kb-assistant (the OpenTelemetry service): employees asking about internal
policies, with a retrieved policy excerpt in the prompt."""

POLICIES = {
    "expenses": ("Expense policy: Meals while travelling are reimbursed up to 60 EUR per day. Receipts are "
                 "required for any item above 25 EUR. Claims must be filed within 30 days in the finance portal."),
    "travel": ("Travel policy: Book flights through the travel desk at least 14 days ahead. Economy class for "
               "flights under 6 hours; premium economy above. Hotels up to 180 EUR per night in major cities."),
    "leave": ("Leave policy: Employees receive 25 days of paid leave per year, plus public holidays. Up to 5 "
              "unused days carry over to the next year and expire on March 31."),
    "it": ("IT policy: Laptops are replaced every 3 years. Lost devices must be reported to the service desk "
           "within 24 hours. Personal devices may access email only through the managed mobile app."),
    "remote": ("Remote work policy: Employees may work remotely up to 3 days per week. Working from another "
               "country requires approval from HR for stays longer than 20 working days per year."),
    "security": ("Security policy: Passwords must be at least 14 characters and multi-factor authentication is "
                 "mandatory. Suspicious emails are reported with the Report Phish button."),
}

QUESTIONS = {
    "expenses": ["What is the daily meal allowance when I travel?", "Do I need a receipt for a 20 euro taxi?",
                 "How long do I have to submit my expense claim?"],
    "travel": ["Can I book premium economy for a 7 hour flight?", "What's the hotel limit in Paris?",
               "How far in advance do I need to book flights?"],
    "leave": ["How many vacation days can I carry over?", "When do my carried-over days expire?",
              "How many days of paid leave do I get?"],
    "it": ["My laptop is 3 years old, can I get a new one?", "I lost my phone with work email on it, what do I do?",
           "Can I read work email on my personal phone?"],
    "remote": ["Can I work remotely 4 days a week?", "I want to work from Portugal for a month, is that allowed?",
               "Do I need approval to work from home on Fridays?"],
    "security": ["What are the password rules?", "How do I report a phishing email?",
                 "Is multi-factor authentication required for everyone?"],
}

ANSWERS = {
    "expenses": ["Meals are reimbursed up to 60 EUR per day while travelling.",
                 "Receipts are only required for items above 25 EUR, so a 20 EUR taxi does not need one, though keeping it is good practice.",
                 "Submit claims in the finance portal within 30 days of the expense."],
    "travel": ["For flights over 6 hours you may book premium economy.",
               "Hotels in major cities like Paris are covered up to 180 EUR per night.",
               "Book through the travel desk at least 14 days before departure."],
    "leave": ["You can carry over up to 5 unused days.", "Carried-over days expire on March 31 of the following year.",
              "You receive 25 days of paid leave per year plus public holidays."],
    "it": ["Laptops are replaced every 3 years, so you can request a replacement through the service desk.",
           "Report the lost device to the service desk within 24 hours so they can wipe it remotely.",
           "Yes, but only through the managed mobile app."],
    "remote": ["The policy allows up to 3 remote days per week, so 4 days would need your manager's exception.",
               "Working from another country for more than 20 working days a year requires HR approval; a month abroad needs approval.",
               "Up to 3 days per week are allowed without special approval."],
    "security": ["Passwords must have at least 14 characters, and MFA is mandatory.",
                 "Use the Report Phish button in your mail client.", "Yes, multi-factor authentication is mandatory for all accounts."],
}

SYSTEM = "Answer employee questions only from the policy excerpt given and name the policy."

CLOSERS = ["This is based on the {name} policy.", "Source: {name} policy. Contact HR if your case is unusual.",
           "See the {name} policy on the intranet for details.", ""]


def user_message(r, topic):
    q = r.choice(QUESTIONS[topic])
    return f"{q}\n\nRelevant excerpt:\n{POLICIES[topic]}", q


def answer(r, topic, question):
    idx = QUESTIONS[topic].index(question)
    text = ANSWERS[topic][idx]
    extra = [a for i, a in enumerate(ANSWERS[topic]) if i != idx]
    if r.random() < 0.5:
        text += " " + r.choice(extra)
    closer = r.choice(CLOSERS).replace("{name}", topic)
    return text + (" " + closer if closer else "")
