"""E-mailing a stamped CFDI: the checks every vendor's ``send_email`` shares.

``provider.send_email(ref, to=[...])`` asks the vendor to e-mail the CFDI's XML and PDF to
``to`` (see :meth:`apunto_connect.invoicing.base.InvoiceProvider.send_email`). Addresses are
checked here, before any request, so a typo is a :class:`~apunto_connect.errors.ValidationError`
naming the field instead of a vendor's refusal (or an e-mail that never arrives).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import ValidationError

__all__ = ["email_recipients", "refuse_email_option"]

# One "@", a dot in the domain, and nothing that would break a URL path segment or a header:
# ContaDigital puts the address in the path, Facturama in the query string.
_ADDRESS = re.compile(r"^[^@\s/\\?#,;]+@[^@\s/\\?#,;]+\.[^@\s/\\?#,;]+$")


def email_recipients(to: str | Sequence[str]) -> list[str]:
    """The addresses of ``to`` (one address or a list), stripped and without repeats.

    Raises:
        ValidationError: no address (field ``to``, code APUNTO-EMAIL-001) or one that is not an
            e-mail address (field ``to[i]``, code APUNTO-EMAIL-002).
    """
    given = [to] if isinstance(to, str) else list(to)
    recipients: list[str] = []
    for index, raw in enumerate(given):
        address = str(raw or "").strip()
        if not _ADDRESS.match(address):
            raise ValidationError(
                f"{address!r} is not an e-mail address (name@domain.tld)",
                field=f"to[{index}]",
                code="APUNTO-EMAIL-002",
            )
        if address.lower() not in (r.lower() for r in recipients):
            recipients.append(address)
    if not recipients:
        raise ValidationError(
            "at least one e-mail address is needed", field="to", code="APUNTO-EMAIL-001"
        )
    return recipients


def refuse_email_option(vendor: str, name: str, value: str | None) -> None:
    """Refuse ``name`` (``subject``, ``message``) when ``vendor``'s e-mail call cannot carry it.

    Raises:
        ValidationError: ``value`` was given (field ``name``, code APUNTO-EMAIL-003).
    """
    if value:
        raise ValidationError(
            f"{vendor}'s e-mail call has no {name}; leave it out",
            field=name,
            code="APUNTO-EMAIL-003",
        )
