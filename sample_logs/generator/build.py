"""Assemble the whole data set in memory, in a fixed order."""

from . import batch, feedback, otel, phenomena, pii_plant, traffic
from .outcomes import run_outcomes
from .users import build_users
from .util import IdRegistry, rng, uuid4


class Dataset:
    pass


def build():
    ds = Dataset()
    ids = IdRegistry()
    ds.users = build_users()
    reqs = traffic.build_flat_traffic(ds.users)
    ds.runaway_user, runaway = phenomena.build_runaway(ds.users)
    reqs += runaway
    ds.offender, added = phenomena.build_injections(reqs, ds.users)
    reqs += added
    ds.pii, ds.pii_negatives = pii_plant.plant_pii(reqs)
    final = run_outcomes(reqs)
    final.sort(key=lambda q: (q["ts"], q["session_id"], q.get("attempt", 0)))
    r = rng("request-ids")
    for q in final:
        q["request_id"] = ids.new(uuid4(r))
    ds.requests = final
    ds.batch_lines, ds.batch_calls = batch.build_batch(ids)
    ds.spans = otel.build_spans(ids)
    ds.feedback = feedback.build_feedback(final)
    ds.ids = ids
    return ds
