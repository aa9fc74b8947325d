"""Optional extras: which modules each one brings, and one clear error when one is missing.

Heavy libraries (Google's clients, fpdf2, tqdm, pandas) are optional extras imported on first
use. A feature that needs one calls :func:`require_extra` before importing, so the user reads
``pip install 'apunto-connect[drive]'`` instead of a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

import importlib.util

from .errors import ConfigurationError

__all__ = [
    "EXTRAS",
    "extra_for_module",
    "install_hint",
    "missing_module_error",
    "missing_modules",
    "require_extra",
]

# extra name -> importable modules it installs (as pyproject.toml's optional-dependencies)
EXTRAS: dict[str, tuple[str, ...]] = {
    "drive": (
        "googleapiclient", "google_auth_httplib2", "google_auth_oauthlib", "google.auth",
        "httplib2",
    ),
    "sandbox": ("fpdf",),
    "progress": ("tqdm",),
    "notebook": ("pandas", "matplotlib", "tqdm"),
}

# Modules that belong to no extra but that a feature may still ask for.
_PACKAGES: dict[str, str] = {"yaml": "pyyaml"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing or broken
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty: the extra is installed)."""
    return [module for module in EXTRAS[extra] if not _installed(module)]


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``."""
    return f"pip install 'apunto-connect[{extra}]'"


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`ConfigurationError` naming ``extra`` when any of its modules is missing.

    Args:
        extra: the optional-dependency name in pyproject.toml (``drive``, ``sandbox``...).
        feature: what needs it, for the message (``"Google Drive storage"``).
    """
    missing = missing_modules(extra)
    if missing:
        raise ConfigurationError(
            f"{feature} needs the '{extra}' extra: {install_hint(extra)} "
            f"(missing: {', '.join(missing)})"
        )


def extra_for_module(module: str) -> str | None:
    """The extra (or package) that provides the top-level ``module``, if one does."""
    top = module.split(".")[0]
    for extra, modules in EXTRAS.items():
        if any(candidate.split(".")[0] == top for candidate in modules):
            return extra
    return None


def missing_module_error(exc: ImportError) -> ConfigurationError:
    """A :class:`ConfigurationError` naming the extra (or package) behind a failed import."""
    name = exc.name or ""
    extra = extra_for_module(name)
    if extra is not None:
        return ConfigurationError(
            f"this needs the '{extra}' extra: {install_hint(extra)} (missing module {name})"
        )
    package = _PACKAGES.get(name.split(".")[0])
    if package is not None:
        return ConfigurationError(f"this needs {package}: pip install {package}")
    return ConfigurationError(f"a required module is missing: {name or exc}")
