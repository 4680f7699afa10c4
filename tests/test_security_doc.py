"""Issue 15: docs/security.md lists exactly the findings the synth acknowledges, so it cannot drift from nag.py."""

from __future__ import annotations

from tradai_cdk import security_doc


def _assembly(synthesized):
    """The session's cloud assembly: the directory above the stage assemblies, where cdk wrote the report."""
    (outdir,) = {stack.template_path.parent.parent for stack in synthesized.values()}
    assert (outdir / "validation-report.json").is_file(), outdir
    return outdir


def test_generated_section_lists_every_plugins_acknowledgements(synthesized):
    section = security_doc.render(_assembly(synthesized))
    for plugin in security_doc.PLUGINS:
        assert f"### {plugin} (" in section, plugin
    assert "TODO" not in section, "every acknowledgement is a decision, none a pending fix"


def test_security_doc_is_current(synthesized):
    document = security_doc.DOC.read_text()
    committed = document[document.index(security_doc.BEGIN):document.index(security_doc.END) + len(security_doc.END)]
    regenerated = security_doc.render(_assembly(synthesized))
    assert committed == regenerated, "docs/security.md is stale: run make security-doc"
