"""Lint rules; importing this package registers every rule with ``harness.docs.lint``.

| ids | module |
|---|---|
| DOC001-DOC008 | structure (parsing, headings/anchors, MDX imports/partials, fences) |
| YAML001-YAML003 | yaml_rules |
| IMG001-IMG002 | image_rules |
| API001-API005 | api |
| NAME001-NAME004 | names |
| URL001-URL004 | urls (URL003/URL004 with --online) |
| LINK001-LINK003 | links (LINK001 with --docs-root) |
| PH001, CMD001 | commands |
"""

from __future__ import annotations

from harness.docs.rules import api, commands, image_rules, links, names, structure, urls, yaml_rules

__all__ = ["api", "commands", "image_rules", "links", "names", "structure", "urls", "yaml_rules"]
