"""The synthetic cohort simulator (docs/simulator.md; docs/simulator.md).

``simulate_cohort(n, seed, scenario)`` returns a ``SimulatedCohort``: the contract tables in the
raw format users' files hold, and the latent truth. Modules: ``scenario`` (every parameter),
``latent`` (patients, therapy, burden, progression, death), ``course`` (visits, detected
progression, end of maintenance), ``observe`` (assays), ``tables`` (contract tables),
``truth`` (latent parameters and true MRD classes).
"""

from mrdtrack.simulate.cohort import SimulatedCohort, simulate_cohort
from mrdtrack.simulate.scenario import Scenario, ScenarioError, load_scenario, make_scenario

__all__ = ["Scenario", "ScenarioError", "SimulatedCohort", "load_scenario", "make_scenario", "simulate_cohort"]
