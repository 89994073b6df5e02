"""The phone-number systems: the support view (CSU), the device portal, the e-commerce panel."""
