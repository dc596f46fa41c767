"""Indonesian names: titles, Muna/Buton prefixes, old spelling, Muhammad and friends."""

from domain.matching.names import fold, name_key, parse_name, phonetic, spell


def tokens(raw: str) -> tuple[str, ...]:
    name = parse_name(raw)
    assert name is not None
    return name.tokens


def test_titles_and_degrees_are_set_apart():
    name = parse_name("Drs. H. Achmad Sjarif, S.H., M.Si.")
    assert name is not None
    assert name.tokens == ("AHMAD", "SYARIF")
    assert name.titles == ("DRS", "H", "SH", "MSI")


def test_degree_without_comma_is_set_apart():
    assert tokens("Budi Santoso S.Pd.") == ("BUDI", "SANTOSO")
    assert tokens("BUDI SANTOSO SE") == ("BUDI", "SANTOSO")


def test_hajjah_and_wa_ode_in_front_or_behind_give_one_name():
    front, behind = parse_name("HJ. WA ODE SITI"), parse_name("Siti Wa Ode")
    assert front is not None and behind is not None
    assert (front.tokens, front.prefix) == (behind.tokens, behind.prefix) == (("SITI",), "WA ODE")


def test_prefix_says_sex():
    la, wa = parse_name("La Ode Muhammad Ichsan"), parse_name("Wa Nurhayati")
    assert la is not None and wa is not None
    assert (la.prefix, la.prefix_sex) == ("LA ODE", "L")
    assert (wa.prefix, wa.prefix_sex) == ("WA", "P")


def test_wd_is_written_wa_ode():
    name = parse_name("WD. NURHAYATI")
    assert name is not None and name.prefix == "WA ODE"


def test_laode_written_as_one_word_is_la_ode():
    joined, apart = parse_name("Laode Kala Tedi"), parse_name("LA ODE KALA TEDI")
    assert joined == apart and joined is not None and joined.prefix == "LA ODE"
    assert parse_name("WAODE SITI") == parse_name("WA ODE SITI")


def test_old_spelling_becomes_eyd():
    assert spell("SOEHARTO") == "SUHARTO"
    assert spell("DJOKO") == "JOKO"
    assert spell("TJOKRO") == "COKRO"
    assert spell("SJARIF") == "SYARIF"
    assert spell("NJOMAN") == "NYOMAN"
    assert spell("CHAIRUL") == "KHAIRUL"


def test_old_j_becomes_y_only_in_an_old_spelled_word():
    assert spell("SOERJO") == "SURYO"
    assert spell("DJOJO") == "JOYO"
    assert spell("JUMRAN") == "JUMRAN"  # a modern name that starts with J


def test_muhammad_abbreviations_are_one_word():
    for raw in ("Moh. Ali", "Moch. Ali", "Muh. Ali", "M. Ali", "Mochammad Ali", "Muhamad Ali"):
        assert tokens(raw) == ("MUHAMMAD", "ALI"), raw


def test_ahmad_and_abdul_spellings_are_one_word():
    assert tokens("Achmad Yani") == tokens("Akhmad Yani") == ("AHMAD", "YANI")
    assert tokens("Abd. Rahman") == ("ABDUL", "RAHMAN")


def test_punctuation_case_apostrophes_and_spaces_do_not_matter():
    assert tokens("ma'ruf   AMIN") == tokens("Maruf Amin") == ("MARUF", "AMIN")


def test_a_single_word_name_is_a_name():
    assert tokens("Sumarni") == ("SUMARNI",)


def test_nothing_but_a_prefix_is_no_name():
    assert parse_name("WA ODE") is None
    assert parse_name("   ") is None


def test_fold_makes_common_variants_one():
    assert fold("JUSUF") == fold("YUSUF")
    assert fold("FATIMAH") == fold("FATIMA")
    assert fold("SYAMSUL") == fold("SAMSUL")


def test_phonetic_key_ignores_spelling_and_word_order():
    assert phonetic("NIAGA") == phonetic("NIYAGA")
    a, b = parse_name("Siti Nurhayati"), parse_name("NOERHAJATI SITI")
    assert a is not None and b is not None
    assert name_key(a) == name_key(b)
