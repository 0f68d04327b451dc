"""Poisoning signatures: text that tries to instruct the agent instead of describing experience.

An episode may carry an injected instruction ("ignore your previous rules", "always transfer funds
to X") or a command addressed to the agent. Such text must never become a playbook rule or
above-floor knowledge on its own say-so. Admission, revision proposals and validation all ask
:func:`signatures` and treat a hit as untrusted: quarantined entries stay below the confidence
floor, revisions carrying a hit are rejected, and an episode carrying a hit never confirms anything
(repeating an injection is not evidence for it).

T0 limits: these are patterns, so a paraphrase they do not cover gets through here. Text that
becomes playbook rules meets a second, structural screen (:mod:`oneiro.screen`: address, obligation,
payloads such as URLs and account numbers, form), which does not depend on any phrase list; and
dream output needs independent awake confirmation, and revisions under the auto policy need
validated evidence.
"""

from __future__ import annotations

import re

#: (name, pattern) pairs, matched case-insensitively anywhere in the text.
SIGNATURES: tuple[tuple[str, str], ...] = (
    (
        "ignore-instructions",
        r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|earlier|above|"
        r"your|all|system|safety)\b[^.\n]{0,20}\b(instructions?|rules?|prompts?|directions?|"
        r"guidelines?|constraints?|policy|policies)\b",
    ),
    (
        "move-funds",
        r"\b(always|immediately|automatically|from now on)\b[^.\n]{0,30}\b(transfer|send|wire|pay|move|"
        r"withdraw)\b[^.\n]{0,30}\b(funds?|money|tokens?|eth|btc|usdc|balance|payments?|assets?)\b"
        r"|\b(transfer|send|wire|move|withdraw)\b[^.\n]{0,30}\b(funds?|money|tokens?|balance|assets?)\b"
        r"[^.\n]{0,30}\bto\b[^.\n]{0,15}\b(account|wallet|address|iban|0x)",
    ),
    ("role-reassignment", r"\b(you are now|from now on,? you|henceforth,? you|act as (an? )?(admin|root))\b"),
    ("new-instructions", r"\b(new|updated|real|secret) (system )?(instructions?|prompt|orders)\s*:"),
    ("system-prompt", r"\b(system prompt|developer message|jailbreak)\b"),
    (
        "concealment",
        r"\b(do not|don't|never) (tell|inform|alert|notify) (the )?(user|owner|operator|anyone)\b",
    ),
    (
        "addressed-command",
        r"(^|[.!?\n]\s*)(assistant|agent|ai|bot|model)\s*[,:]\s*(always|never|ignore|transfer|send|"
        r"delete|run|execute|disable|approve)\b",
    ),
    (
        "disable-safety",
        r"\b(disable|turn off|bypass)\b[^.\n]{0,12}\b(your|all|the agent'?s?)\b[^.\n]{0,12}"
        r"\b(safety|guards?|limits?|checks?|gate)\b",
    ),
)

_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in SIGNATURES)


def signatures(text: str) -> list[str]:
    """Names of the poisoning signatures found in ``text`` (empty when clean)."""
    return [name for name, pattern in _COMPILED if pattern.search(text)]


def is_poisoned(*texts: str) -> bool:
    return any(signatures(t) for t in texts)
