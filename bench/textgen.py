"""Synthetic but realistic episode text for the speed benchmarks: no downloaded data.

Episodes read like what an agent records: chat turns between people, tool calls and their results,
decisions and errors, each with named people, places, projects, numbers and dates. Everything comes
from one seeded ``random.Random``, so a seed names a corpus exactly. Questions are built from the
same slots (an entity, a topic, a date), so they share words with some episodes and not others,
which is what makes the lexical and dense retrievers do real work.

The vocabulary is a few thousand distinct words (names x places x topics x verbs, plus numbers,
dates and identifiers), so word frequencies are skewed the way real logs are: a few very common
words and a long tail of rare ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PEOPLE = _words(
    "Maria Alice Bob Chen Dmitri Elena Farid Grace Hiro Ines Jamal Kofi Lena Mateo Nadia Omar Priya "
    "Quentin Rosa Sven Tariq Uma Victor Wen Ximena Yusuf Zoe Aiko Bruno Carmen Diego Emeka Fatima "
    "Gustav Hana Ivan Jonas Kira Luca Mei Nikhil Olga Pablo Rania Sami Tomas Ursula Vera Wanjiru "
    "Yara Zain Anouk Bao Caio Dara Eitan Freya Goran Hugo Ilse"
)
PLACES = _words(
    "Lisbon Berlin Nairobi Osaka Toronto Lima Oslo Cairo Denver Hanoi Dublin Quito Seoul Austin "
    "Porto Krakow Lagos Perth Tbilisi Valencia Zurich Accra Bergen Cusco Dakar Gdansk Hobart Izmir"
)
PROJECTS = _words(
    "atlas beacon cobalt delta ember falcon garnet harbor iris juniper kestrel lumen meridian nova "
    "orbit pioneer quartz raven sierra tundra umbra vertex willow zephyr"
)
TOPICS = _words(
    "deployment migration invoice budget roadmap onboarding contract outage backlog hiring survey "
    "release benchmark audit refund schedule dashboard pipeline prototype forecast renewal "
    "shipment warranty itinerary reservation lease mortgage vaccination recital tournament "
    "marathon garden renovation wedding reunion conference workshop hackathon podcast newsletter "
    "thesis exhibition fundraiser"
)
THINGS = _words(
    "laptop bicycle guitar camera kettle passport tent telescope printer router notebook keyboard "
    "umbrella backpack sourdough lasagna espresso tulips bonsai aquarium drone kayak violin easel "
    "microscope sewing-machine"
)
ACTIONS = _words(
    "scheduled postponed cancelled approved rejected reviewed finished started paid booked moved "
    "fixed broke tested shipped signed drafted renewed merged reverted archived escalated"
)
FEELINGS = _words("excited worried relieved frustrated proud nervous curious tired grateful surprised")
TOOLS = _words("search_docs run_sql http_get send_email create_ticket read_file git_diff calendar_add")
ERRORS = _words(
    "timeout connection-refused rate-limited permission-denied not-found schema-mismatch "
    "disk-full invalid-token checksum-failed"
)
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
FILLER = _words(
    "honestly basically actually probably definitely again finally already maybe really just "
    "still quite almost apparently luckily unfortunately"
)

#: First day of the synthetic timeline; episodes advance by minutes from here.
EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Synthetic:
    """One generated episode: its text and the fields ``record`` takes."""

    text: str
    ts: float
    session: str
    actor: str
    kind: str

    def record(self) -> dict[str, object]:
        return {
            "text": self.text,
            "ts": self.ts,
            "session": self.session,
            "actor": self.actor,
            "kind": self.kind,
        }


class TextGen:
    """A seeded generator of episodes and questions about them."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.clock = EPOCH

    def _slots(self) -> dict[str, str]:
        r = self.rng
        day = self.clock + timedelta(days=r.randint(-20, 40))
        return {
            "p": r.choice(PEOPLE),
            "q": r.choice(PEOPLE),
            "place": r.choice(PLACES),
            "proj": r.choice(PROJECTS),
            "topic": r.choice(TOPICS),
            "thing": r.choice(THINGS),
            "act": r.choice(ACTIONS),
            "feel": r.choice(FEELINGS),
            "tool": r.choice(TOOLS),
            "err": r.choice(ERRORS),
            "wd": r.choice(WEEKDAYS),
            "date": day.strftime("%d %B %Y"),
            "iso": day.strftime("%Y-%m-%d"),
            "n": str(r.choice([r.randint(2, 60), r.randint(100, 9999)])),
            "money": f"{r.randint(20, 20000):,}",
            "pct": str(r.randint(1, 99)),
            "ms": str(r.randint(5, 4000)),
            "ticket": f"{r.choice(PROJECTS).upper()}-{r.randint(100, 9999)}",
            "fill": r.choice(FILLER),
        }

    def _message(self, s: dict[str, str]) -> str:
        templates = (
            "{p} said the {topic} for {proj} was {act} to {wd} {date}, {fill} nobody told {q}.",
            "I'm {feel} about the {topic} in {place}; {p} thinks it will cost about ${money}.",
            "{p} {act} the {thing} order on {date} and {q} is {feel} it took {n} days.",
            "Can you remind {q} that the {proj} {topic} moves to {place} on {wd}?",
            "We {fill} {act} {n} items from the {topic} backlog, {pct}% of what {p} planned.",
            "{q} asked whether the {thing} from {place} arrived; it was {act} on {iso}.",
            "{p} and {q} met in {place} to talk about the {topic}; {p} felt {feel} afterwards.",
            "Note to self: {p}'s {topic} deadline is {date}, budget ${money}, owner {q}.",
            "{p} recommended a {thing} for the {topic}; {q} {fill} {act} it after {n} minutes.",
            "The {proj} team {act} the {topic} after {p} found {n} issues in {place}.",
        )
        return self.rng.choice(templates).format(**s)

    def _log(self, s: dict[str, str]) -> tuple[str, str]:
        r = self.rng
        kind = r.choice(("observation", "decision", "outcome", "error"))
        templates = {
            "observation": (
                "tool {tool} returned {n} rows for {proj} {topic} in {ms} ms",
                "{tool}({proj}/{topic}) ok: {n} results, latency {ms} ms, cache hit {pct}%",
            ),
            "decision": (
                "decided to retry {tool} for ticket {ticket} because {p} needs the {topic} by {wd}",
                "chose {place} region for {proj} after comparing {n} options; cost ${money}",
            ),
            "outcome": (
                "ticket {ticket} {act}: {topic} for {p} done in {ms} ms, {pct}% tests passing",
                "{proj} {topic} {act} on {iso}; {q} confirmed {n} records",
            ),
            "error": (
                "{tool} failed with {err} on ticket {ticket} after {ms} ms (attempt {pct})",
                "error {err} while {p} ran {tool} for the {proj} {topic} in {place}",
            ),
        }
        return kind, r.choice(templates[kind]).format(**s)

    def episode(self) -> Synthetic:
        """The next episode; time moves forward by a few minutes each call."""
        r = self.rng
        self.clock += timedelta(minutes=r.randint(1, 30))
        s = self._slots()
        session = f"{s['proj']}-{self.clock.strftime('%Y%m%d')}"
        if r.random() < 0.6:
            return Synthetic(self._message(s), self.clock.timestamp(), session, s["p"].lower(), "message")
        kind, text = self._log(s)
        return Synthetic(text, self.clock.timestamp(), session, "agent", kind)

    def episodes(self, n: int) -> Iterator[Synthetic]:
        for _ in range(n):
            yield self.episode()

    def question(self) -> str:
        """A question a user might ask of such a store."""
        s = self._slots()
        templates = (
            "When is the {topic} for {proj} happening?",
            "What did {p} say about the {topic} in {place}?",
            "How much did the {thing} cost {q}?",
            "Which ticket failed with {err} during the {topic}?",
            "Who was {feel} about the {proj} {topic}?",
            "What happened with {p}'s {thing} on {wd}?",
            "How long did {tool} take for {proj}?",
            "Did {q} finish the {topic} before {date}?",
        )
        return self.rng.choice(templates).format(**s)
