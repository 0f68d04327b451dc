"""INTEGRATION: admission and staging of this cycle's entries, then playbook revision proposals.

Admission runs first, so proposals never rest on an entry admission quarantined or rejected in
this cycle. Nothing here activates anything: entries stay invisible until RETURN, and revisions
are only proposed.
"""

from __future__ import annotations

from oneiro.dream.ops.admission import Admission
from oneiro.dream.ops.revision_proposals import ProposeRevisions
from oneiro.dream.phase import Operation

OPERATIONS: tuple[Operation, ...] = (Admission(), ProposeRevisions())
