"""The motif report: one self-contained HTML page per sample and an index page linking them.

The report only reads files that the other stages wrote under ``results/{sample}/`` (it never
imports torch) and writes one HTML file:

* **self-contained** -- every image is inlined as a base64 ``data:`` URI, the style sheet is inline,
  there is no script and no font, style sheet or image from any host; the page carries a
  Content-Security-Policy that forbids scripts and any load other than inline images, so it opens
  the same from a results folder, a web server or an e-mail attachment;
* **safe** -- every string that came from an input file (sequence names from FASTA headers, BED
  names, sample names, motif names, paths) goes through :func:`html.escape`;
* **bounded** -- long tables are capped on the page (top rows only) and link to the full files
  with relative links.

A stage whose outputs are missing (e.g. a run without binding-site calls) leaves its section out
with a note saying which file was missing; nothing here fails on an absent optional file. A
malformed file is reported as :class:`~seqfm.errors.InputError` naming the file.

The rooms, in the order the data flows through them:

* :mod:`~seqfm.report.data` -- reading the results folder (:func:`load`), feature maps, summaries;
* :mod:`~seqfm.report.figures` -- the figures the report draws itself (matplotlib);
* :mod:`~seqfm.report.html` -- escaping, number formats, inlined images, the style sheet, the page;
* :mod:`~seqfm.report.sections` -- one function per section of a sample's page;
* :mod:`~seqfm.report.pages` -- a sample's page, the index page, and writing them
  (:func:`write_report`, :func:`write_index`).
"""

from .data import SampleResults, config_digest, load
from .pages import render_index, render_sample, write_index, write_report

__all__ = ["SampleResults", "config_digest", "load", "render_index", "render_sample", "write_index",
           "write_report"]
