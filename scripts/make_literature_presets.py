"""Regenerate the literature presets in compact_model/presets/ (not fitted to any data).

Run: .venv/bin/python scripts/make_literature_presets.py
"""

from pathlib import Path

from compact_model.cards import save_card
from compact_model.params import DeviceParams, ModelCard, Provenance, VariabilityParams

PRESETS = Path(__file__).resolve().parents[1] / "compact_model" / "presets"

JIANG = ModelCard(
    name="jiang2016-hfox",
    device=DeviceParams(),  # the dataclass defaults are the published HfOx values
    provenance=Provenance(
        description="Default HfOx parameters of the Stanford/PKU RRAM model (gap model with "
                    "sinh conduction and field/temperature-activated gap motion). Not fitted here.",
        reference="Z. Jiang et al., IEEE TED 63(5), 2016; "
                  "Stanford RRAM model v1.0.0, doi:10.4231/D37H1DN48"),
)

SIOX = ModelCard(
    name="siox-literature",
    device=DeviceParams(thickness=8e-9, gamma0=24.0, g_max=2.8e-9, g0=0.3e-9, beta_set=0.4,
                        beta_reset=1.0, v_set=1e-7, v_reset=1e-7, v_nl_lrs=0.8, v_nl_hrs=0.5),
    variability=VariabilityParams(g_defect=2e-6, c2c_floor=0.02),
    provenance=Provenance(
        description="Representative SiOx 1T1R RRAM. NOT fitted to the reference paper's devices "
                    "(their data is not public): values chosen so the model shows the behaviour "
                    "reported for SiOx RRAM - positive SET at ~1.0 V in a DC sweep (50 ms per 10 mV) "
                    "and RESET onset at ~-0.7 V; after 2 V, 1 us SET pulses R_LRS ~ 1.3-1.7 V / I_C "
                    "for I_C = 20-200 uA with its log-spread falling with I_C; R_HRS rising "
                    "0.66 -> 2.8 Mohm as |V_STOP| goes 1.5 -> 3 V (1 ms ramps); no read disturb at "
                    "0.2 V over 1e4 s.",
        reference="I. Munoz-Martin, S. Bianchi et al., VLSI 2020, doi:10.1109/VLSITechnology18217."
                  "2020.9265072; A. Bricalli et al., IEEE TED 65(1), 2018 (SiOx RRAM); "
                  "D. Ielmini, IEEE TED 58(12), 2011 (R_LRS ~ V_C/I_C); S. Ambrogio et al., "
                  "IEEE TED 61(8), 2014 (Poisson-like spread vs I_C)"),
)

if __name__ == "__main__":
    for card in (JIANG, SIOX):
        print(save_card(card, PRESETS / f"{card.name}.toml"))
