"""The HTTP service (``oneiro serve``), its dashboard and the MCP server (``oneiro mcp``).

Every edge here is thin: it turns a request into a call of a :class:`oneiro.Memory` method (the
same ones the CLI calls) and the result into a DTO of :mod:`oneiro.dto`. Nothing here opens the
store or speaks SQL. Importing this package needs no optional dependency (``oneiro init`` uses
:mod:`oneiro.service.token`); :mod:`oneiro.service.app` needs the ``service`` extra.
"""
