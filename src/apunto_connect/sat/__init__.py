"""SAT helpers: RFC, legal names, product names, CFDI 4.0 catalogs and pre-flight rules."""
