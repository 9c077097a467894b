"""Model cards: round trips, bundled presets with provenance, clear errors."""

import dataclasses

import pytest

from compact_model.cards import (CardError, card_from_dict, card_to_dict, load_card, load_preset,
                                 preset_names, save_card)
from compact_model.params import DeviceParams, ModelCard, Polarity, Provenance


def _card():
    return ModelCard(name="t", device=DeviceParams(i0=2e-4, set_polarity=Polarity.NEGATIVE),
                     provenance=Provenance(description="test", fitted_to="synthetic"),
                     uncertainties={"device.i0": 1e-5})


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip(tmp_path, suffix):
    card = _card()
    path = save_card(card, tmp_path / f"card{suffix}")
    assert load_card(path) == card


def test_presets_load_and_carry_provenance():
    names = preset_names()
    assert "siox-literature" in names
    for name in names:
        card = load_preset(name)
        assert card.provenance.description
        assert card.provenance.fitted_to or card.provenance.reference  # fitted, or documented
    siox = load_preset("siox-literature")
    assert "not fitted" in siox.provenance.description.lower()


def test_unknown_field_is_named(tmp_path):
    data = card_to_dict(_card())
    data["device"]["i_zero"] = 1.0
    with pytest.raises(CardError, match=r"\[device\].*'i_zero'"):
        card_from_dict(data, source="x.toml")


def test_impossible_value_names_file_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "b"\n[device]\ni0 = -1.0\n')
    with pytest.raises(CardError, match=r"bad.toml.*\[device\].*'i0'"):
        load_card(path)


def test_wrong_type_and_parse_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "b"\n[device]\ng0 = "big"\n')
    with pytest.raises(CardError, match=r"device\]\.g0"):
        load_card(path)
    path.write_text('name = "b"\n[device\n')
    with pytest.raises(CardError, match="cannot parse"):
        load_card(path)
    with pytest.raises(CardError, match="no such"):
        load_card(tmp_path / "missing.toml")


def test_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    import compact_model.cards as cards

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cards.os, "replace", boom)
    with pytest.raises(RuntimeError):
        save_card(_card(), tmp_path / "c.toml")
    assert list(tmp_path.iterdir()) == []


def test_cards_are_immutable():
    card = _card()
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.name = "other"


def test_siox_preset_shows_the_behaviour_its_provenance_documents():
    import numpy as np

    from compact_model import programming as pr

    card = load_preset("siox-literature")
    dev = card.device
    i_c = np.array([2e-5, 5e-5, 1e-4, 2e-4])
    lrs = pr.set_with_compliance(dev, np.full(i_c.size, dev.g_max), i_c, v_set=2.0)
    r_lrs = pr.read_resistance(dev, lrs)
    assert np.all(np.diff(r_lrs) < 0)
    assert np.all((r_lrs * i_c > 1.2) & (r_lrs * i_c < 1.8))  # R_LRS ~ V_C / I_C
    r_hrs = [pr.read_resistance(dev, pr.reset_to_vstop(dev, lrs[2], v))[0] for v in (1.5, 2.0, 3.0)]
    assert np.all(np.diff(r_hrs) > 0) and r_hrs[0] > 40 * r_lrs[2]
