"""Whether an invoicing provider can stamp a payment receipt, a credit note or a Carta Porte.

The commands and the demo ask before they build anything, so a vendor (or an SDK version)
that cannot stamp a document is an :class:`UnsupportedOperation` with no request sent, never an
``AttributeError`` from deep inside the stamping path.

Two signals say a provider stamps a kind of document: a :class:`Capability` member for it
(``stamp_payment``, ``stamp_credit_note``, ``stamp_carta_porte`` and the spellings listed in
``_CAPABILITY_NAMES``), which the provider then has to list; or, where the SDK has no such
member, a ``stamp`` whose signature names the document's class.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from typing import Any, Literal

from ..errors import UnsupportedOperation
from ..models import Capability

__all__ = ["DocumentKind", "document_kind", "require_document_stamping", "stamping_unavailable"]

DocumentKind = Literal["payment", "credit_note", "carta_porte"]

_CAPABILITY_NAMES: dict[str, tuple[str, ...]] = {
    "payment": ("stamp_payment", "stamp_payment_receipt", "payment_receipt", "payments"),
    "credit_note": ("stamp_credit_note", "credit_note", "credit_notes"),
    "carta_porte": ("stamp_carta_porte", "carta_porte"),
}
_CLASS_NAMES = {
    "payment": "PaymentReceipt",
    "credit_note": "CreditNote",
    "carta_porte": "CartaPorteInvoice",
}
_OPERATIONS = {
    "payment": "stamp a payment receipt",
    "credit_note": "stamp a credit note",
    "carta_porte": "stamp a Carta Porte",
}


def document_kind(document: object) -> DocumentKind:
    """``payment``, ``credit_note`` or ``carta_porte`` for a document model."""
    name = type(document).__name__
    for kind, class_name in _CLASS_NAMES.items():
        if name == class_name:
            return kind  # type: ignore[return-value]
    raise TypeError(f"not a fiscal document this module knows: {name}")


def _capability(kind: str) -> Capability | None:
    values = {member.value: member for member in Capability}
    for name in _CAPABILITY_NAMES[kind]:
        if name in values:
            return values[name]
    return None


def _stamp_names_class(provider: Any, kind: str) -> bool:
    stamp = getattr(type(provider), "stamp", None)
    if stamp is None:
        return False
    try:
        parameters = list(inspect.signature(stamp).parameters.values())
    except (TypeError, ValueError):
        return False
    if len(parameters) < 2:
        return False
    document = parameters[1]
    texts = [str(document.annotation)]
    # An alias (``Document``) or a string annotation, resolved to the classes it names; hints
    # that cannot be resolved just mean the class is not named.
    with contextlib.suppress(Exception):
        texts.append(str(typing.get_type_hints(stamp).get(document.name, "")))
    return any(_CLASS_NAMES[kind] in text for text in texts)


def stamping_unavailable(provider: Any, kind: DocumentKind) -> str | None:
    """Why ``provider`` cannot stamp documents of ``kind``; ``None`` when it can."""
    capability = _capability(kind)
    name = getattr(provider, "name", "") or type(provider).__name__
    if capability is not None:
        if provider.supports(capability):
            return None
        return f"{name} does not offer '{capability.value}'"
    if _stamp_names_class(provider, kind):
        return None
    return f"this version of apunto-connect cannot {_OPERATIONS[kind]} through a vendor yet"


def require_document_stamping(provider: Any, kind: DocumentKind) -> None:
    """Raise :class:`UnsupportedOperation` (nothing sent) unless ``provider`` stamps ``kind``."""
    reason = stamping_unavailable(provider, kind)
    if reason is not None:
        name = getattr(provider, "name", "") or type(provider).__name__
        raise UnsupportedOperation(
            name, _OPERATIONS[kind],
            f"{reason}; `apunto_connect.cfdi.build` writes the XML meanwhile",
        )
