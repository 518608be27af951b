"""The read side: views that join several domains (the customer 360, the reports).

It sits above the domains: it may use their repositories, services and policies, and always applies the owning
domain's visibility; no domain imports it, so no domain reaches into a sibling's repository.
"""
