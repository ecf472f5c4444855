"""POS orders, the menu (SKU -> visual classes) and matching."""
