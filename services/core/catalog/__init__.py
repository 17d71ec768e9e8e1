"""The service catalog: business services, technical services, CIs and their dependency graph.

Pure apart from `loader`, which reads catalog files.
"""

from impactline.core.catalog.catalog import Catalog
from impactline.core.catalog.errors import (
    CatalogError,
    CatalogInvalid,
    CatalogUnreadable,
    UnknownNodeError,
)
from impactline.core.catalog.graph import CatalogGraph
from impactline.core.catalog.health import ServiceHealth
from impactline.core.catalog.loader import catalog_files, load_catalog
from impactline.core.catalog.model import (
    BusinessService,
    CIType,
    ConfigurationItem,
    Lifecycle,
    NodeKind,
    Persona,
    RedundancyGroup,
    Requires,
    Rule,
    Stakeholder,
    TechnicalService,
    VipUser,
)

__all__ = [
    "BusinessService",
    "CIType",
    "Catalog",
    "CatalogError",
    "CatalogGraph",
    "CatalogInvalid",
    "CatalogUnreadable",
    "ConfigurationItem",
    "Lifecycle",
    "NodeKind",
    "Persona",
    "RedundancyGroup",
    "Requires",
    "Rule",
    "ServiceHealth",
    "Stakeholder",
    "TechnicalService",
    "UnknownNodeError",
    "VipUser",
    "catalog_files",
    "load_catalog",
]
