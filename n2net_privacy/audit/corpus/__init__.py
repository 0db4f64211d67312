"""The auditor's seeded corpus: requests that leak on purpose, to prove each detector catches them.

:mod:`.leaky_client` is the matrix of kind x place x encoding; :mod:`.redteam`
is one cell per trick of the red-team pass.
"""
