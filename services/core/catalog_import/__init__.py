"""Catalog import: service catalogs people already have -> catalog documents, with a report.

Pure: the importers take parsed files (Backstage entity descriptors, ServiceNow Table API
exports) and return one catalog document and an `ImportReport` of what mapped and what a person
must still supply; `merge` folds a re-import into the file written before without losing what
people added by hand. `impactline catalog import` reads and writes the files.
"""

from impactline.core.catalog_import.backstage import import_entities
from impactline.core.catalog_import.merge import merge
from impactline.core.catalog_import.report import ImportReport
from impactline.core.catalog_import.servicenow import import_exports

__all__ = ["ImportReport", "import_entities", "import_exports", "merge"]
