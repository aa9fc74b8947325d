"""The SAT schema fixture of the CFDI tests, shared with the document stamping tests."""

from tests.cfdi.conftest import sat_schema

__all__ = ["sat_schema"]
