"""The user population: ~400 users with heavy-tailed activity, tiers,
jurisdictions, consent flags and endpoint preferences."""

from . import config as C
from .util import hexid, lognormal, pick, rng

JURISDICTIONS = [("US", 0.34), ("EU", 0.26), ("UK", 0.10), ("CA", 0.08), ("IN", 0.12), ("BR", 0.10)]
REGION = {"US": "us-east-1", "CA": "us-east-1", "EU": "eu-west-1", "UK": "eu-west-1",
          "IN": "ap-south-1", "BR": "sa-east-1"}
TIERS = [("free", 0.58), ("pro", 0.32), ("enterprise", 0.10)]


def build_users():
    r = rng("users")
    users = []
    seen = set()
    for _ in range(C.N_USERS):
        uid = "usr_" + hexid(r, 8)
        while uid in seen:
            uid = "usr_" + hexid(r, 8)
        seen.add(uid)
        jur = pick(r, JURISDICTIONS)
        tier = pick(r, TIERS)
        # heavy tail: lognormal activity, enterprise users more active
        activity = lognormal(r, 1.0, 0.95) * (1.6 if tier == "enterprise" else 1.0)
        consent_p = 0.95 if jur == "EU" else 0.88
        prefs = {ep: w * lognormal(r, 1.0, 0.8) for ep, w in C.ENDPOINT_SHARES}
        users.append(dict(user_id=uid, tier=tier, jurisdiction=jur, region=REGION[jur],
                          consent=r.random() < consent_p, activity=activity, prefs=prefs,
                          upgrade_day=r.choice([0, 0, 0, 0, 0, 0, 0, 4, 9, 99])))
    # a handful of power users
    order = sorted(range(len(users)), key=lambda k: -users[k]["activity"])
    for k in order[:5]:
        users[k]["activity"] *= 2.0
    return users


def app_build(user, day, r):
    """Clients update over time; build 5.11.2 did not log cost_usd."""
    if day < user["upgrade_day"]:
        return "5.11.2"
    return "5.12.1" if day >= 9 and r.random() < 0.7 else "5.12.0"
