"""What the specs of the families on the non-saturating BCE iteration share
(implementations/torch/bce_gan.py and its mirrors)."""

#: BCE's D loss is log 4 = 1.39 at the equilibrium and 0 for a perfect D; under 0.1 both of
#: its terms are under 0.05: D tells real from fake with about 95 % confidence. A convergence
#: run whose D stays there while G stops improving was won by D (FamilyConfig.d_won_loss).
D_WON_LOSS = 0.1
