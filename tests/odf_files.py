"""OpenDocument files written by hand for tests/test_formats.py: an .odt carrying a Basic macro
bound to its load event, and a minimal .odt of any body (zipfile and strings only)."""

from __future__ import annotations

import zipfile
from pathlib import Path


def macro_odt(path: Path, target: Path) -> Path:
    """An .odt whose Basic macro, bound to the document's load event, writes ``target``."""
    script = ("vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document")
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
               'xmlns:ooo="http://openoffice.org/2004/office" '  # script:language="ooo:script" needs it, or the
               'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:dom="http://www.w3.org/2001/xml-events" '  # binding is dropped
               'office:version="1.3"><office:scripts>'
               '<office:event-listeners><script:event-listener script:language="ooo:script" '
               f'script:event-name="dom:load" xlink:href="{script}" xlink:type="simple"/></office:event-listeners></office:scripts>'
               '<office:body><office:text><text:p>Macro carrier</text:p></office:text></office:body>'
               '</office:document-content>')
    module = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD '
              'OfficeDocument 1.0//EN" "module.dtd"><script:module xmlns:script="http://openoffice.org/2000/script" '
              'script:name="Module1" script:language="StarBasic">Sub Main\n'
              f'  Open "{target}" For Output As #1\n  Print #1, "ran"\n  Close #1\nEnd Sub\n</script:module>')
    library = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD '
               'OfficeDocument 1.0//EN" "library.dtd"><library:library xmlns:library="http://openoffice.org/2000/'
               'library" library:name="Standard" library:readonly="false" library:passwordprotected="false">'
               '<library:element library:name="Module1"/></library:library>')
    container = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE library:libraries PUBLIC "-//OpenOffice.org//DTD '
                 'OfficeDocument 1.0//EN" "libraries.dtd"><library:libraries xmlns:library="http://openoffice.org/'
                 '2000/library" xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" '
                 'library:link="false"/></library:libraries>')
    return _package(path, {"content.xml": content, "Basic/script-lc.xml": container,
                           "Basic/Standard/script-lb.xml": library, "Basic/Standard/Module1.xml": module})


def odt(path: Path, body: str, namespaces: str = "") -> Path:
    """A minimal .odt whose text body is ``body`` (ODF XML), with extra ``namespaces`` declared."""
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
               'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
               f'xmlns:xlink="http://www.w3.org/1999/xlink" {namespaces} office:version="1.3">'
               f'<office:body><office:text>{body}</office:text></office:body></office:document-content>')
    return _package(path, {"content.xml": content})


def _package(path: Path, files: dict[str, str]) -> Path:
    """An OpenDocument text package at ``path``: its mimetype first, a manifest naming ``files``
    (XML parts), then the files."""
    entries = "".join(f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml"/>'
                      for name in files)
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
                f'manifest:media-type="application/vnd.oasis.opendocument.text"/>{entries}</manifest:manifest>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("META-INF/manifest.xml", manifest)
        for name, text in files.items():
            z.writestr(name, text)
    return path
