"""Checks on the tutorial pages themselves (issue 6): read a page, lint it, bind steps to its blocks, and
report drift against what a run observed.

Modules, from the page up:

* ``page`` loads a page (path or URL); ``markdown`` parses .md/.mdx, ``plaintext`` recovers blocks from rendered
  text by shape (``shapes``, ``blocks``); ``model`` is what both produce; ``slug`` makes Docusaurus anchors.
* ``shell``, ``kubectl``, ``curl``, ``images``, ``yamldocs`` read what is inside blocks; ``catalog`` collects
  what the page defines (APIs, objects, files).
* ``lint`` runs the rules in ``rules/`` (ids, severities, fixes); ``cli`` is ``scripts/docs-check`` and
  ``python -m harness.docs``.
* ``tables`` parses, renders and compares kubectl tables; ``binding`` reads ``features/*.docs.yaml``;
  ``recorder`` holds what steps ran, applied and observed; ``drift`` compares; ``report`` writes Markdown,
  JUnit and text; ``plugin`` wires it all into pytest (``--docs``).
"""
