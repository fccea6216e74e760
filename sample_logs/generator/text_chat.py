"""General /chat assistant text: questions and answers by topic."""

from .util import fill

SLOTS = {
    "city": ["Lisbon", "Kyoto", "Chicago", "Edinburgh", "Mexico City", "Vienna", "Cape Town",
             "Montreal", "Seoul", "Barcelona"],
    "n": ["three", "four", "five", "seven"],
    "dish": ["a vegetarian lasagne", "chicken curry", "sourdough bread", "a lemon tart",
             "mushroom risotto", "pad thai", "a lentil soup"],
    "role": ["data analyst", "product manager", "backend engineer", "UX designer",
             "nurse", "project coordinator", "marketing lead"],
    "concept": ["compound interest", "how vaccines train the immune system", "the CAP theorem",
                "inflation and interest rates", "how public-key cryptography works",
                "the difference between weather and climate", "gradient descent",
                "why the sky is blue"],
    "doc": ["a cover letter", "a resignation email", "a product announcement",
            "a thank-you note to a mentor", "a short speech for a team offsite",
            "a polite reminder about an unpaid invoice"],
    "lang": ["Spanish", "Japanese", "German", "French", "Portuguese"],
}

PROMPTS = {
    "travel": ["I'm planning a {n}-day trip to {city} in spring with my partner. We like food markets, "
               "walking and small museums, and we don't want to rush. Can you suggest an itinerary?",
               "What neighbourhoods in {city} are good to stay in for a first visit on a mid-range budget?",
               "I have a long layover in {city}. Is it realistic to leave the airport for a few hours, "
               "and what could I see?"],
    "cooking": ["How do I make {dish} for six people? I have about an hour and a normal home kitchen.",
                "My {dish} always turns out bland. What am I probably doing wrong?",
                "Can you give me a shopping list and steps for {dish}, plus something to make ahead?"],
    "writing": ["Can you help me write {doc}? Keep it friendly but professional, under 200 words.",
                "Please improve this draft of {doc} so it sounds more confident and less stiff.",
                "Write {doc} in a warm tone, and give me a shorter alternative too."],
    "explain": ["Explain {concept} like I'm a smart high-school student.",
                "I keep reading about {concept}. Can you explain it simply, with an example?",
                "What are the most common misconceptions about {concept}?"],
    "career": ["I'm a {role} with four years of experience and I'm thinking about switching teams. "
               "What questions should I ask before deciding?",
               "How should I prepare for a senior {role} interview next week?",
               "What are good ways for a {role} to show impact in a performance review?"],
    "language": ["What is the most effective way to learn {lang} in six months with thirty minutes a day?",
                 "Can you explain when to use the formal and informal 'you' in {lang}?",
                 "Give me ten everyday {lang} phrases for ordering food and asking for directions."],
}

ANSWERS = {
    "travel": ["Start each day in one neighbourhood and walk outward, so you spend more time exploring and less time in transit.",
               "Markets are liveliest in the morning, so plan them before ten and leave museums for the afternoon.",
               "Book one special dinner in advance and keep the other evenings open for places you discover while walking.",
               "A public transport day pass is usually cheaper than single tickets if you take more than three rides.",
               "Leave a half day unplanned near the end of the trip; it is often the part people remember most.",
               "Neighbourhoods near the old town are walkable but noisier, while areas one stop further out are quieter and cheaper."],
    "cooking": ["Season in layers: a little salt at each stage tastes better than a lot at the end.",
                "Brown the aromatics slowly over medium heat; rushing this step is the most common reason for a flat flavour.",
                "Acidity lifts a heavy dish, so finish with a squeeze of lemon or a spoon of vinegar and taste again.",
                "Prepare the sauce a day ahead; the flavour improves overnight and it saves time on the day.",
                "For six people, plan roughly 150 grams of main ingredient per person and one extra portion.",
                "Let it rest for ten minutes before serving so it sets and is easier to portion."],
    "writing": ["Open with the reason you are writing in one sentence, then give the detail the reader needs.",
                "Replace phrases like 'I just wanted to' with a direct statement; it sounds more confident without being rude.",
                "Keep paragraphs to two or three sentences so the message is easy to scan on a phone.",
                "End with a clear next step and a date, which makes it easy for the reader to respond.",
                "Here is a shorter alternative that keeps the same tone but drops the second paragraph."],
    "explain": ["The key idea is that small effects repeated many times add up to something large.",
                "A simple example makes this concrete: imagine the same process applied every day for a year.",
                "People often confuse the cause with the correlation, which leads to the most common misconception.",
                "In practice, engineers and scientists use a simplified model that works well in everyday cases.",
                "The trade-off is that you cannot have every desirable property at once, so systems choose which one to relax.",
                "If you remember one thing, remember that the effect depends on both the starting point and the rate of change."],
    "career": ["Ask the new team how they measure success in the first six months; vague answers are a warning sign.",
               "Talk to someone who left the team recently, because they will describe the day-to-day honestly.",
               "Prepare three stories about problems you solved, each with the situation, your action and a measurable result.",
               "Interviewers for senior roles listen for how you make trade-offs, not only for the final answer.",
               "Write down your impact every Friday; at review time you will have evidence instead of memories.",
               "Connect your work to a goal your manager cares about, and say so explicitly in the review."],
    "language": ["Consistency beats intensity: thirty minutes every day works better than four hours on Sunday.",
                 "Spend the first month on the thousand most common words and basic sentence patterns.",
                 "Use the formal form with strangers, older people and in business; switch when the other person does.",
                 "Speaking practice with a tutor once a week speeds up progress more than any app.",
                 "Listen to slow podcasts during commutes to train your ear before you understand everything."],
}

DETAILS = {
    "travel": ["**A sample day:** start with breakfast near your hotel, walk to the market before it gets crowded, "
               "take a long lunch, visit one small museum in the early afternoon and rest before dinner. "
               "In the evening, walk through the old town when the light is best for photos.",
               "**Getting around:** most central sights are within a 30-minute walk of each other. Buy a transit "
               "card at the airport, keep a little cash for small cafes, and check museum closing days, which are "
               "often Mondays."],
    "cooking": ["**Timing plan:** start the slow-cooking part first, prepare the vegetables while it simmers, and "
                "use the last fifteen minutes for the sauce and the garnish. Set the table before you start the "
                "final step so nothing waits.",
                "**Make ahead:** the base can be cooked the day before and kept covered in the fridge. Reheat gently, "
                "adjust the seasoning again, and add fresh herbs only at the end."],
    "writing": ["**Draft:**\n\nHi there,\n\nThank you for the opportunity to work together this year. I wanted to "
                "share a quick update and the next steps we agreed on, so everyone has the same picture. Please let "
                "me know by Friday if anything should change.\n\nBest regards,\nAlex",
                "**Shorter version:**\n\nHi, a quick update and next steps from our call are below. Let me know by "
                "Friday if anything should change. Thanks!"],
    "explain": ["**Example:** imagine saving 100 each month at a fixed rate. In the first year the growth is small, "
                "but after twenty years most of the balance comes from growth on earlier growth rather than from "
                "the deposits themselves.",
                "**Why it matters:** once you see the mechanism, many everyday situations make more sense, from "
                "loans and savings to how systems behave when one part fails."],
    "career": ["**Questions to ask:** How is success measured in the first six months? What would you change "
               "about the team if you could? How are priorities decided when two stakeholders disagree? What did "
               "the last person in this role move on to?",
               "**How to prepare:** write down three examples of decisions you made with incomplete information, "
               "what you learned, and what you would do differently now. Practise telling each in two minutes."],
    "language": ["**Weekly routine:** four days of vocabulary and grammar for twenty minutes plus ten minutes of "
                 "listening, one day of speaking with a tutor or partner, one day of reading a short article, and "
                 "one rest day.",
                 "**Useful phrases:** learn greetings, numbers, asking for prices, ordering, asking for directions, "
                 "and polite phrases like please, thank you and excuse me first; they cover most travel situations."],
}

INTROS = ["Great question.", "Here's a practical way to think about it.", "Sure, happy to help.",
          "Here's a plan that should work well.", "Good news: this is easier than it looks.", ""]
OUTROS = ["Want me to adjust this for your situation?", "Let me know if you'd like more detail on any step.",
          "I can turn this into a checklist if that helps.", ""]

SYSTEM = ("You are Acme Assistant, a helpful, honest general-purpose assistant inside the Acme "
          "app. Answer clearly, use short paragraphs or lists, and say when you are not sure. "
          "Do not give medical, legal or financial advice beyond general information.")

FOLLOW_UPS = ["Can you make that shorter?", "Thanks! Could you add a bit more detail to the second point?",
              "What would you change if I only had half the time?", "Can you give me an example?",
              "That's helpful. What's the most common mistake people make here?",
              "Could you put that in a table?", "Great, now make it more casual."]

TOPICS = list(PROMPTS)


def prompt(r, topic, turn):
    if turn > 0 and r.random() < 0.7:
        return r.choice(FOLLOW_UPS)
    text = fill(r, r.choice(PROMPTS[topic]), SLOTS)
    if r.random() < 0.35:
        text += " " + r.choice(["Some context: I'm doing this for the first time.",
                                "Please keep it practical; I don't need the theory.",
                                "I'd appreciate a short answer first and details after.",
                                "Assume I have a limited budget."])
    return text


def answer(r, topic, long=False):
    k = r.randint(3, 5) if not long else r.randint(5, 6)
    pool = ANSWERS[topic]
    picked = r.sample(pool, min(k, len(pool)))
    intro = r.choice(INTROS)
    if r.random() < 0.5:
        body = "\n".join(f"- {s}" for s in picked)
    else:
        half = (len(picked) + 1) // 2
        body = " ".join(picked[:half]) + "\n\n" + " ".join(picked[half:])
    out = (intro + "\n\n" if intro else "") + body
    if long:
        out += "\n\n" + "\n\n".join(DETAILS[topic])
    outro = r.choice(OUTROS)
    return out + ("\n\n" + outro if outro else "")
