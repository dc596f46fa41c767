"""The Fellegi-Sunter match model: for every field and comparison level, m (how often the level
occurs between two records of one person) and u (between records of different persons); a
level weighs log2(m/u) and a pair's weight is the sum over its fields.

Thresholds apply to that sum (the Bayes factor in bits, prior not included): >= link_weight is
the same person, >= review_weight goes to a supervisor. `prior` (the chance that two random
records are one person) only turns a weight into the probability shown with the evidence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .blocking import SUGGESTED_CAPS, blocking_keys, index_keys
from .compare import COMPARATORS, FIELDS, LEVELS, NEUTRAL, TF_LEVELS, TIED, kk_level, nik_level
from .decisions import Evidence, FieldComparison
from .prepared import Prepared, prepare
from .record import PersonRecord

DEFAULT_PATH = Path(__file__).with_name("params.json")
# The agency that issues NIKs (the civil registry): two of its records with two NIKs are two
# residents it registered, whatever else they share.
ISSUER = "disdukcapil"
# Fields that weigh little whatever the data say: La/Wa/Ode mark sex and descent, not a person.
BOUNDS = {"prefix": 3.0}
_LEVEL_BLOCK = re.compile(r'\{\s*(?:"m": [^{}]*)?"weight": [^{}]*\}')
NAME_ELSE = LEVELS["name"].index("else")
NAME_SUBSET = LEVELS["name"].index("subset")
NIK_EXACT = LEVELS["nik"].index("exact")
NIK_ELSE = LEVELS["nik"].index("else")
NIK_NEXT_SERIAL = LEVELS["nik"].index("next_serial")
NIK_SAME_DATE = frozenset(
    LEVELS["nik"].index(x) for x in ("near_same_date", "next_serial", "serial_same_date")
)
KK_ELSE = LEVELS["kk"].index("else")
NAME_DISAGREE = frozenset(LEVELS["name"].index(x) for x in ("missing", "two_edits", "else"))
NAME_CLOSE = frozenset(LEVELS["name"].index(x) for x in ("exact", "tokens", "jw95"))
NIK_NEAR = frozenset(LEVELS["nik"].index(x) for x in ("near_dob", "one_edit", "transposition"))
DOB_NEAR = frozenset(LEVELS["birth_date"].index(x) for x in ("exact", "swapped", "near"))
# Floors: a level never seen among one person's pairs still happens (at most -10 bits), and a
# level never seen among different persons' pairs still weighs finitely.
M_FLOOR = 1e-3
U_FLOOR = 1e-6


def _weight(m: float, u: float) -> float:
    w = math.log2(max(m, M_FLOOR) / max(u, U_FLOOR))
    return min(w, 0.0) if m < M_FLOOR else w  # unseen in both classes: no evidence for


class MatchModel:
    """m/u per field level, thresholds and name-word frequencies; compares prepared records."""

    def __init__(
        self,
        params: Mapping[str, Mapping[str, tuple[float, float]]],
        *,
        link_weight: float,
        review_weight: float,
        prior: float,
        frequencies: Mapping[str, float] | None = None,
        tf_max_gain: float = 6.0,
        comment: str = "",
    ):
        # A level the file lacks (a file older than the code) weighs nothing.
        self.params = {
            f: {lv: params.get(f, {}).get(lv, (0.5, 0.5)) for lv in LEVELS[f][1:]} for f in FIELDS
        }
        for (f, lv), same in TIED.items():  # estimated together with a level of its kind
            self.params[f][lv] = self.params[f][same]
        self.link_weight = float(link_weight)
        self.review_weight = float(review_weight)
        self.prior = float(prior)
        self.frequencies = dict(frequencies or {})
        self.tf_max_gain = float(tf_max_gain)
        self.comment = comment
        self._prior_bits = math.log2(self.prior / (1.0 - self.prior))
        self._u_exact = [self.params[f][LEVELS[f][1]][1] for f in FIELDS]
        # name_u is the chance that a random name holds all of a name's words: what a random
        # name shares with the shorter name of a subset pair, against the subset level's own u
        # (the chance of a subset averaged over names), not the exact level's (of equal names).
        self._u_subset = self.params["name"]["subset"][1]
        self._w = [
            [0.0 if lv == "missing" or (f, lv) in NEUTRAL else _weight(*self.params[f][lv])
             for lv in LEVELS[f]]
            for f in FIELDS
        ]  # fmt: skip
        for i, f in enumerate(FIELDS):
            if f in BOUNDS:
                self._w[i] = [max(-BOUNDS[f], min(BOUNDS[f], w)) for w in self._w[i]]
        self._fc = [
            [FieldComparison(f, lv, w) for lv, w in zip(LEVELS[f], ws, strict=True)]
            for f, ws in zip(FIELDS, self._w, strict=True)
        ]
        self._tf = [(i, set(TF_LEVELS.get(f, ()))) for i, f in enumerate(FIELDS)]
        self._name, self._prefix = FIELDS.index("name"), FIELDS.index("prefix")
        self._nik, self._dob = FIELDS.index("nik"), FIELDS.index("birth_date")
        self._kk = FIELDS.index("kk")
        self._moved = tuple(FIELDS.index(f) for f in ("kk", "address", "area", "postcode"))
        # Early exit (score with a floor): the most telling fields first, and the most each
        # field still to come can add (name: plus the rarest name's gain).
        tops = [max(ws) + (self.tf_max_gain if f in TF_LEVELS else 0.0)
                for f, ws in zip(FIELDS, self._w, strict=True)]  # fmt: skip
        order = [self._nik, self._dob, self._name, self._kk]
        order += [i for i in range(len(FIELDS)) if i not in order]
        self._order = tuple((i, COMPARATORS[i], sum(tops[j] for j in order[k + 1 :]))
                            for k, i in enumerate(order))  # fmt: skip
        self._first, self._later = self._order[0], self._order[1:]  # not sliced per score
        # Per blocking-key kind, the largest block worth comparing (the Resolver's default).
        self.block_caps: dict[str, int] = dict(SUGGESTED_CAPS)

    # --- files ---

    @classmethod
    def load(cls, path: Path | None = None) -> MatchModel:
        """Read a parameter file (None: the default shipped with the package)."""
        data = json.loads((path or DEFAULT_PATH).read_text(encoding="utf-8"))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchModel:
        """The model of a parsed parameter file (see to_dict)."""
        params = {
            f: {lv: (float(v["m"]), float(v["u"])) for lv, v in data["fields"].get(f, {}).items()
                if lv in LEVELS[f][1:]}
            for f in FIELDS
        }  # fmt: skip
        return cls(
            params,
            link_weight=data["link_weight"],
            review_weight=data["review_weight"],
            prior=data["prior"],
            frequencies=data.get("frequencies", {}),
            tf_max_gain=data.get("tf_max_gain", 6.0),
            comment=data.get("_comment", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """The parameters as an operator reads them: per field and level m, u and the weight."""
        fields: dict[str, Any] = {}
        for i, f in enumerate(FIELDS):
            levels: dict[str, Any] = {"missing": {"weight": 0.0}}
            for j, lv in enumerate(LEVELS[f][1:], start=1):
                m, u = self.params[f][lv]
                levels[lv] = {"m": round(m, 6), "u": round(u, 8), "weight": round(self._w[i][j], 3)}
            fields[f] = levels
        return {
            "_comment": self.comment,
            "link_weight": self.link_weight,
            "review_weight": self.review_weight,
            "prior": self.prior,
            "tf_max_gain": self.tf_max_gain,
            "fields": fields,
            "frequencies": {k: round(v, 6) for k, v in sorted(self.frequencies.items())},
        }

    def save(self, path: Path) -> None:
        """Write the parameters as indented JSON."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        # One line per comparison level: {"m": ..., "u": ..., "weight": ...}
        text = _LEVEL_BLOCK.sub(lambda g: json.dumps(json.loads(g.group())), text)
        path.write_text(text + "\n", encoding="utf-8")

    def replace(self, **changes: Any) -> MatchModel:
        """A copy with some constructor arguments changed (params, thresholds, frequencies)."""
        args: dict[str, Any] = {
            "params": self.params, "link_weight": self.link_weight,
            "review_weight": self.review_weight, "prior": self.prior,
            "frequencies": self.frequencies, "tf_max_gain": self.tf_max_gain,
            "comment": self.comment,
        }  # fmt: skip
        args.update(changes)
        params = args.pop("params")
        return MatchModel(params, **args)

    # --- comparing ---

    def prepare(self, record: PersonRecord | Prepared) -> Prepared:
        """The record's comparable form; keep it, compare() and score() take it directly."""
        if isinstance(record, Prepared):
            return record
        return prepare(record, self.frequencies)

    def blocking_keys(self, record: PersonRecord | Prepared) -> tuple[str, ...]:
        """'<kind>:<value>' keys (personal data: memory only, never logged); see blocking.py."""
        return blocking_keys(self.prepare(record))

    def index_keys(
        self, record: PersonRecord | Prepared
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The keys the resolver indexes a record under, and those it only looks it up under
        (a proved NIK's deletions are never indexed; see blocking.py)."""
        return index_keys(self.prepare(record))

    def levels(self, a: PersonRecord | Prepared, b: PersonRecord | Prepared) -> tuple[int, ...]:
        """The level index of each field (into compare.LEVELS), in compare.FIELDS order."""
        pa, pb = self.prepare(a), self.prepare(b)
        return tuple(f(pa, pb) for f in COMPARATORS)

    def _weights(self, a: Prepared, b: Prepared, lv: Sequence[int]) -> list[float]:
        w = [ws[j] for ws, j in zip(self._w, lv, strict=True)]
        i = self._name
        if lv[i] in (1, 2, 5):  # agreeing words weigh by how common they are
            ref = self._u_subset if lv[i] == NAME_SUBSET else self._u_exact[i]
            w[i] += self._tf_shift(ref, max(a.name_u, b.name_u))
        i = self._prefix
        if lv[i] == 1:
            w[i] = min(w[i] + self._tf_shift(self._u_exact[i], a.prefix_u), BOUNDS["prefix"])
        if self._issuers_one_nik(a, b, lv):
            for i in self._moved:  # never against: one resident at two times
                w[i] = max(w[i], 0.0)
        return w

    def _issuers_one_nik(self, a: Prepared, b: Prepared, lv: Sequence[int]) -> bool:
        """Two records of the civil registry, which issues NIKs and never one twice, holding
        the same NIK (right for one of them): one resident, recorded at two times. Where they
        lived and their KK change with a move (an old PINDAH_DATANG row against the biodata
        after a second move weighed 19.7 bits, under the link weight, and fell out of its
        person), so those fields never count against such a pair."""
        return lv[self._nik] == NIK_EXACT and a.record.source == b.record.source == ISSUER

    def _tf_shift(self, ref: float, u: float) -> float:
        """Bits added for a rare value, taken for a common one: log2(u of the level on any
        value / u of agreement on this value), at most tf_max_gain."""
        return min(math.log2(ref / max(u, U_FLOOR)), self.tf_max_gain)

    def _total(self, lv: Sequence[int], ws: Sequence[float]) -> float:
        total = sum(ws)
        if total >= self.link_weight and not self._identified(lv):
            return math.nextafter(self.link_weight, -math.inf)
        return total

    def _identified(self, lv: Sequence[int]) -> bool:
        """Whether a pair may be linked without a supervisor: names that do not disagree, with
        the same NIK, a NIK or birth date that (nearly) agrees, a shared KK, or (neither
        recorded) names that (nearly) agree; never two NIKs that each agree with their own
        record (a relative's NIK on a record has another name) or are consecutive serials.
        Household fields (KK, address, phone) agree for a whole family and are not independent
        of each other: alone they only ever send a pair to review (siblings, and twins with
        other names)."""
        nik, name, dob = lv[self._nik], lv[self._name], lv[self._dob]
        if name == NAME_ELSE or nik == NIK_ELSE:
            return False  # another name, or two NIKs each right for its own record
        if nik == NIK_EXACT:
            return True
        if name == 0 or nik == NIK_NEXT_SERIAL:
            # Namesakes born the same day in one district have NIKs one serial apart (twins
            # share a KK as well): not told apart from a typo but by a supervisor.
            return False
        if name in NAME_CLOSE and lv[self._kk] == 1:
            return True  # one family does not give one name twice
        if nik == 0 and dob == 0:  # nothing to contradict a (nearly) equal name
            return name in NAME_CLOSE
        return nik in NIK_NEAR or dob in DOB_NEAR

    def conflict(self, a: Prepared, b: Prepared) -> bool:
        """True when two records cannot be one person without a supervisor: two NIKs that each
        agree with their own record (consecutive serials of one date included: namesakes of
        one district, or a typo only a supervisor can tell), or two NIKs born the same day one
        digit apart with two different KK numbers. A person holding both is two people: do
        not merge such."""
        level = nik_level(a, b)
        if level == NIK_ELSE or (level == NIK_NEXT_SERIAL and a.nik_proof and b.nik_proof):
            return True
        return level in NIK_SAME_DATE and kk_level(a, b) == KK_ELSE

    def same_nik(self, a: Prepared, b: Prepared) -> bool:
        """Whether two records hold one NIK that agrees with at least one of them (not a KK
        number in the NIK field)."""
        return nik_level(a, b) == NIK_EXACT

    def score(self, a: Prepared, b: Prepared, floor: float | None = None) -> float:
        """The pair's weight (sum of field weights, in bits); the fast path for the resolver.
        With `floor` (the resolver's review weight), a pair that can no longer reach it, or
        whose two NIKs each fit their own record (two people), stops early and weighs -inf."""
        if floor is None:
            lv = [f(a, b) for f in COMPARATORS]
            return self._total(lv, self._weights(a, b, lv))
        lv = [0] * len(COMPARATORS)
        (i, f, rest), later = self._first, self._later  # the NIK first
        j = lv[i] = f(a, b)
        if j == NIK_ELSE:
            # Two NIKs each right for its own record: never linked (see _identified), and
            # not a supervisor's question either.
            return -math.inf
        if self._issuers_one_nik(a, b, lv):
            return self.score(a, b)  # no early exit: _weights lifts the fields of a move
        w, total = self._w, self._w[i][j]
        bound = floor - self.tf_max_gain * 2  # tf shifts below are bounded
        if total + rest < bound:
            return -math.inf
        for i, f, rest in later:
            j = lv[i] = f(a, b)
            total += w[i][j]
            if total + rest < bound:
                return -math.inf
        if self._two_people(a, b, lv):
            return -math.inf
        return self._total(lv, self._weights(a, b, lv))

    def scores(self, a: Prepared, others: Sequence[Prepared], floor: float) -> list[float]:
        """score(a, b, floor) for each b of `others`, in order: the resolver's hot loop. Most
        candidates (86% with 95,000 people resolved) hold two NIKs each right for its own
        record; this loop drops those at their NIK without a score() call each."""
        score, inf = self.score, -math.inf
        return [inf if nik_level(a, b) == NIK_ELSE else score(a, b, floor) for b in others]

    def _two_people(self, a: Prepared, b: Prepared, lv: Sequence[int]) -> bool:
        """Consecutive serials of one birth date, each right for its record, under names that
        do not agree (twins: one KK, other names): two people, no question. Under one name
        they may be namesakes or a neighbouring key typed (8 for 9): a supervisor's question,
        which the review band asks (_identified keeps such a pair below the link weight),
        unless both records are the civil registry's, which issued both NIKs."""
        return (
            lv[self._nik] == NIK_NEXT_SERIAL
            and a.nik_proof
            and b.nik_proof
            and (lv[self._name] in NAME_DISAGREE or a.record.source == b.record.source == ISSUER)
        )

    def compare(self, a: PersonRecord | Prepared, b: PersonRecord | Prepared) -> Evidence:
        """Per-field levels and weights, the total weight and the probability of one person."""
        pa, pb = self.prepare(a), self.prepare(b)
        lv = [f(pa, pb) for f in COMPARATORS]
        ws = self._weights(pa, pb, lv)
        comparisons = tuple(
            fc[j] if fc[j].weight == w else FieldComparison(fc[j].field, fc[j].level, w)
            for fc, j, w in zip(self._fc, lv, ws, strict=True)
        )
        total = self._total(lv, ws)
        return Evidence(comparisons, total, self.probability(total))

    def probability(self, weight: float) -> float:
        """The chance that a pair of this weight is one person, under the model's prior."""
        bits = weight + self._prior_bits
        if bits > 60:
            return 1.0
        if bits < -60:
            return 0.0
        return 1.0 / (1.0 + 2.0**-bits)
