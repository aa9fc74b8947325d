"""Incoming store orders: verify the store's webhook and turn a paid order into an invoice.

``woocommerce`` and ``shopify`` each offer ``verify_webhook(body, header, secret)`` and
``order_to_invoice(order, issuer, find_customer=...)``; ``prestashop`` maps orders read from
its webservice (it signs no webhooks). See ``docs/webhooks.md``.
"""
