"""Physical constants of the electrostatics engine (units eV, Å, e)."""

#: Coulomb constant k_e = 1 / (4 π ε₀) in eV·Å/e².
COULOMB_CONSTANT = 14.399645
