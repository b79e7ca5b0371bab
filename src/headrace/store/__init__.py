"""Storage: content-addressed artifact bytes and SQL metadata records.

Nothing here knows a user's Python objects; materializers turn objects into files
and ``runner`` joins the two.
"""
