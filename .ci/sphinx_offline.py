"""Sphinx extension (loaded from _config.yml): notebook outputs must not pull assets off a CDN.

matplotlib's JavaScript animations (``Animation.to_jshtml()``, ``HTMLWriter``) begin with

    <link rel="stylesheet"
    href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css">

for the icons of their play/step buttons. The book's theme already ships Font Awesome 6, whose
script renders those same ``fa fa-*`` icons (checked in the browser), so the link is dropped from
the raw HTML outputs of the book. In Jupyter and Colab the notebooks are unchanged.
tests/test_site.py fails on any other resource loaded from another host.
"""

from __future__ import annotations

import re

from docutils import nodes

FONT_AWESOME_4_LINK = re.compile(
    r"<link\s+rel=[\"']stylesheet[\"']\s+href=[\"']https?://maxcdn\.bootstrapcdn\.com/"
    r"font-awesome/[^\"']*[\"']\s*/?>",
    re.IGNORECASE,
)


def strip_cdn_links(app, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        new = FONT_AWESOME_4_LINK.sub("", text)
        if new != text:
            node.replace(node[0], nodes.Text(new))


def setup(app):
    app.connect("doctree-resolved", strip_cdn_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
