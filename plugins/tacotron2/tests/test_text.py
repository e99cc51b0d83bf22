"""The English front end against the published models' expectations (tests/data/tacotron2-text-cases.tsv)."""

import gzip
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tts_pipeline_tacotron2.text import (
    ARPABET,
    SYMBOLS,
    CMUDict,
    english_cleaners,
    sequence_to_text,
    split_sentences,
    text_to_sequence,
)

from tts_pipeline.errors import TextError, TTSError

CASES = Path(__file__).parents[3] / "tests" / "data" / "tacotron2-text-cases.tsv"


def _cases():
    rows = CASES.read_text(encoding="utf-8").split("\n")[1:]
    # the input column may itself hold a tab: the last two columns are cleaned text and ids
    return [row.rsplit("\t", 2) for row in rows if row]


@pytest.mark.parametrize("text, cleaned, ids", _cases())
def test_published_cases(text, cleaned, ids):
    assert text_to_sequence(text) == [int(i) for i in ids.split()]
    if cleaned:  # rows with ARPAbet give ids only
        assert english_cleaners(text) == cleaned


def test_symbol_table():
    assert len(SYMBOLS) == 148 and len(ARPABET) == 84 and len(set(SYMBOLS)) == 148
    assert SYMBOLS[0] == "_" and SYMBOLS[1] == "-" and SYMBOLS[11] == " "
    assert SYMBOLS[12] == "A" and SYMBOLS[38] == "a" and SYMBOLS[45] == "h"
    assert SYMBOLS[64] == "@AA" and SYMBOLS[106] == "@HH" and SYMBOLS[-1] == "@ZH"


def test_pounds_read_properly():
    assert english_cleaners("It cost £12.") == "it cost twelve pounds."


@pytest.mark.parametrize(
    "text, words",
    [
        ("1984", "nineteen eighty-four"),
        ("2000", "two thousand"),
        ("2007", "two thousand seven"),
        ("1,000,000", "one million"),
        ("$0.00", "zero dollars"),
        ("3rd", "third"),
        ("1000", "one thousand"),
    ],
)
def test_numbers(text, words):
    assert english_cleaners(text) == words


def test_arpabet_round_trip_and_cmudict(tmp_path):
    ids = text_to_sequence("say {HH AH0 L OW1}")
    assert sequence_to_text(ids) == "say {HH AH0 L OW1}"
    path = tmp_path / "cmudict.txt"
    path.write_text(";;; comment\nHELLO  HH AH0 L OW1\nHELLO(1)  HH EH0 L OW1\nBAD  XX1\n", encoding="latin-1")
    cmu = CMUDict(path)
    assert cmu.lookup("Hello") == ["HH AH0 L OW1", "HH EH0 L OW1"] and cmu.lookup("bad") is None
    assert text_to_sequence("Hello, world.", cmudict=cmu) == text_to_sequence("{HH AH0 L OW1}, world.")


def test_bundled_cmudict_gzip_and_trailing_comments(tmp_path):
    cmu = CMUDict("bundled")
    assert len(cmu) > 120_000
    assert cmu.lookup("cistern") == ["S IH1 S T ER0 N"] and cmu.lookup("Aalborg")[0] == "AO1 L B AO0 R G"
    path = tmp_path / "small.dict.gz"
    path.write_bytes(gzip.compress(b"hello HH AH0 L OW1 # a greeting\nworld W ER1 L D\n"))
    assert CMUDict(path).lookup("hello") == ["HH AH0 L OW1"]
    path.write_bytes(b"not gzip")
    with pytest.raises(TTSError, match="cannot read CMUdict"):
        CMUDict(path)
    path = tmp_path / "garbage.txt"
    path.write_bytes(bytes(range(256)) * 4 + b"\nhello world\n")  # no line with valid phones
    with pytest.raises(TTSError, match="holds no CMUdict entries"):
        CMUDict(path)


def test_p_arpabet_mixes_spelt_and_phone_words():
    cmu = CMUDict("bundled")
    text = "the dog saw the cat and the bird"
    assert text_to_sequence(text, cmudict=cmu, p_arpabet=0.0) == text_to_sequence(text)
    assert sequence_to_text(text_to_sequence(text, cmudict=cmu)).count("{") == 8

    def draw(generator):
        return text_to_sequence(text, cmudict=cmu, p_arpabet=0.5, generator=generator)

    generator = torch.Generator().manual_seed(0)
    draws = [sequence_to_text(draw(generator)) for _ in range(40)]
    assert len(set(draws)) > 10
    # each word is either spelt or its phones, about half of them phones
    spoken = [word for one in draws for word in re.findall(r"\{[^}]*\}|[a-z]+", one)]
    assert len(spoken) == 320 and 110 < sum(word.startswith("{") for word in spoken) < 210
    assert draw(torch.Generator().manual_seed(3)) == draw(torch.Generator().manual_seed(3))


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "no letters"),
        ("   \t\n", "no letters"),
        ("?!... ,;", "no letters"),
        ("\U0001f600\U0001f389", "no letters"),
        ("{HH XX1}", "'XX1'"),
        ("{HH AH0", "unbalanced"),
        ("oops}", "unbalanced"),
    ],
)
def test_unspeakable_text(text, needle):
    with pytest.raises(TextError, match=needle):
        text_to_sequence(text)


def test_any_unicode_is_handled():
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(chr(rng.choice([rng.randrange(32, 0x2FF), rng.randrange(0x300, 0x1FFFF)])) for _ in range(12))
        try:
            ids = text_to_sequence(text)
        except TextError:
            continue
        assert all(0 < i < len(SYMBOLS) for i in ids)


def test_split_sentences():
    text = "Dr. Smith paid $3.50 today. He left! J. Smith stayed... Then? ...\nA new line; more."
    assert split_sentences(text) == [
        "Dr. Smith paid $3.50 today.",
        "He left!",
        "J. Smith stayed...",
        "Then? ...",
        "A new line;",
        "more.",
    ]


def test_abbreviated_units_and_lower_case_continuations_do_not_end_a_sentence():
    assert split_sentences("Add approx. 5 kg of flour. Then stir.") == ["Add approx. 5 kg of flour.", "Then stir."]
    assert split_sentences("It was 5 lbs. of flour and 3 oz. of salt. Good.") == [
        "It was 5 lbs. of flour and 3 oz. of salt.",
        "Good.",
    ]
    assert split_sentences("The fig. shows it. but the text goes on.") == ["The fig. shows it. but the text goes on."]


def test_long_input_splits_into_bounded_pieces():
    words = " ".join(f"word{i}," if i % 17 == 0 else f"word{i}" for i in range(10_000))
    pieces = split_sentences(words)
    assert max(len(p) for p in pieces) <= 200
    assert " ".join(pieces).split() == words.split()  # nothing lost


def test_inflect_is_imported_only_for_numbers():
    """Its import costs seconds (typeguard), so text without digits must not trigger it."""
    code = (
        "import sys\n"
        "from tts_pipeline_tacotron2.text import text_to_sequence\n"
        "text_to_sequence('Hello, world.')\n"
        "assert 'inflect' not in sys.modules, 'inflect imported for text without digits'\n"
        "from tts_pipeline_tacotron2.text.cleaners import english_cleaners\n"
        "assert english_cleaners('In 1984, 3rd') == 'in nineteen eighty-four, third'\n"
        "assert 'inflect' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_numbers_too_long_to_name_are_read_digit_by_digit():
    assert english_cleaners("pi is 3.14159265358979323846264338327950288419.").startswith(
        "pi is three point one four one five nine two six"
    )
    assert english_cleaners("the " + "1" * 37 + "2nd") == "the " + "one " * 37 + "second"
    assert english_cleaners("1" * 36).startswith("one hundred eleven decillion")  # inflect's limit: still named


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("It rose 50% in the 1990s.", "it rose fifty percent in the nineteen nineties."),
        ("the 1800s, the 90s", "the eighteen hundreds, the nineties"),
        ("Meet at 3:30, 9:05 or 7:00.", "meet at three thirty, nine oh five or seven o'clock."),
        ("€5, £12.50, 5€ and £1.", "five euros, twelve pounds, fifty pence, five euros and one pound."),
        ("-5°C or 70 °F; 90°.", "minus five degrees celsius or seventy degrees fahrenheit; ninety degrees."),
        ("R&D, the #1 item", "r and d, the number one item"),
        ("pages 5-10, x - 5, a-5", "pages five to ten, x - five, a-five"),
        ("Mail jo.smith+tts@example.co.uk now.", "mail jo dot smith plus tts at example dot co dot uk now."),
        ("See https://www.example.org/docs/, or x.", "see www dot example dot org slash docs, or x."),
        (
            "Smith vs. Who, e.g. apples, i.e. food, etc.",
            "smith versus who, for example apples, that is food, et cetera",
        ),
    ],
)
def test_symbols_and_forms_nvidia_cleaners_garble_are_spoken(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3pm", "three p.m."),
        ("Room 4B", "room four b"),
        ("CO2", "co two"),
        ("Q3", "q three"),
        ("2x", "two x"),
        ("MP3", "mp three"),
        ("v2.0", "v two point zero"),
        ("H2O and G7", "h two o and g seven"),
        ("1st, 2ND, 3rd, 4th, 7TH", "first, second, third, fourth, seventh"),
        ("the 1990s, 80s and 1990S", "the nineteen nineties, eighties and nineteen nineties"),
    ],
)
def test_letters_and_digits_run_together_are_parted(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3pm", "three p.m."),
        ("3 pm", "three p.m."),
        ("10 a.m.", "ten a.m."),
        ("10:30 P.M.", "ten thirty p.m."),
        ("7:00 pm", "seven p.m."),
        ("10am-2pm", "ten a.m. to two p.m."),
        ("We met at 10 a.m.", "we met at ten a.m."),  # the sentence's period stays
        ("We met at 10 a.m. and left.", "we met at ten a.m. and left."),  # none is made up
        ("We met at 10 a.m. Then we left.", "we met at ten a.m. then we left."),
        ("At 10 a.m., we left.", "at ten a.m., we left."),
        ("13pm, 5 amps, 1 a month, I am 5", "thirteen pm, five amps, one a month, i am five"),
    ],
)
def test_times_of_day(text, words):
    assert english_cleaners(text) == words


def test_a_time_of_day_does_not_split_a_sentence():
    assert split_sentences("We met at 10 a.m. and left.") == ["We met at 10 a.m. and left."]
    assert split_sentences("At 10 a.m. we left. Then rain.") == ["At 10 a.m. we left.", "Then rain."]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1/2", "one half"),
        ("3/4", "three quarters"),
        ("2/3", "two thirds"),
        ("5/8", "five eighths"),
        ("1/10", "one tenth"),
        ("2 1/2", "two and a half"),
        ("2 3/4 cups", "two and three quarters cups"),
        ("1-1/2 inch", "one and a half inch"),
        ("½", "one half"),
        ("add ½ cup", "add one half cup"),
        ("2½", "two and a half"),
        ("-1/2", "minus one half"),
        ("24/7", "twenty-four seven"),
        ("50/50", "fifty fifty"),
        ("9/11", "nine eleven"),
        ("3/12, 1/1", "three twelve, one one"),
        ("3/4/2020", "three four twenty twenty"),
    ],
)
def test_fractions_and_numbers_with_slashes(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("10-20", "ten to twenty"),
        ("1990-2000", "nineteen ninety to two thousand"),
        ("pages 10-20.", "pages ten to twenty."),
        ("10\u201320", "ten to twenty"),
        ("1,000-2,000", "one thousand to two thousand"),
        ("1.5-2.5 kg", "one point five to two point five kilograms"),
        ("9:00-17:30", "nine o'clock to seventeen thirty"),
        ("50-60%", "fifty to sixty percent"),
        ("-5-10", "minus five to ten"),
        ("500-1000", "five hundred to one thousand"),
        ("555-1234", "five five five, one two three four"),
        ("555-123-4567", "five five five, one two three, four five six seven"),
        ("(555) 123-4567", "five five five, one two three, four five six seven"),
        ("1-800-555-1234", "one, eight zero zero, five five five, one two three four"),
        ("2020-03-04", "march fourth, twenty twenty"),
        ("1999-12-31", "december thirty-first, nineteen ninety-nine"),
    ],
)
def test_ranges_phone_numbers_and_iso_dates(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("5 \u00d7 3", "five times three"),
        ("5\u00d73", "five times three"),
        ("x = y + z", "x equals y plus z"),
        ("2 + 2 = 4", "two plus two equals four"),
        ("1+1=2, x=-5", "one plus one equals two, x equals minus five"),
        ("~5 min", "about five min"),
        ("5~10", "five to ten"),
        ("@user", "at user"),
        ("meet me @ home", "meet me at home"),
        ("No. 5", "number five"),
        ("no.5 and No. 10", "number five and number ten"),
        ("approx. 5", "approximately five"),
    ],
)
def test_arithmetic_signs_and_abbreviations_before_numbers(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("5 kg", "five kilograms"),
        ("1 km", "one kilometer"),
        ("100 mph", "one hundred miles per hour"),
        ("2.5 GB", "two point five gigabytes"),
        ("5kg and 100g", "five kilograms and one hundred grams"),
        ("1 mg, 2 cm, 3 mm, 1 ml", "one milligram, two centimeters, three millimeters, one milliliter"),
        ("10 km/h, 1 kph", "ten kilometers per hour, one kilometer per hour"),
        ("1 lb, 2 lbs, 1 lbs, 3 oz", "one pound, two pounds, one pound, three ounces"),
        ("50 Hz, 44.1 kHz", "fifty hertz, forty-four point one kilohertz"),
        ("3 MHz, 1 GHz", "three megahertz, one gigahertz"),
        ("1 KB, 2 MB, 1 TB, 200 ms", "one kilobyte, two megabytes, one terabyte, two hundred milliseconds"),
        ("1,000 km", "one thousand kilometers"),
        ("5 lbs. of flour", "five pounds of flour"),
        ("It weighs 5 lbs.", "it weighs five pounds."),
    ],
)
def test_units_after_numbers(text, words):
    assert english_cleaners(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("COVID-19", "covid-nineteen"),
        ("-5", "minus five"),
        ("x - 5", "x - five"),
        ("1-2-3", "one-two-three"),
        ("No. I won't.", "no. i won't."),
        ("no 5", "no five"),
        ("C++ and A+", "c++ and a+"),
        ("5G and 5 MS", "five g and five ms"),
        ("10 m, 5 in, 3 s", "ten m, five in, three s"),
        ("kg km mph", "kg km mph"),
        ("a kg of 5kgs", "a kg of five kgs"),
        ("2 x 4", "two x four"),
        ("=====", "====="),
        ("0.75", "zero point seventy-five"),
        ("Jan. 1st", "jan. first"),
        ("eleven:forty-five a.m.", "eleven:forty-five a.m."),
        ("jo2@example.com", "jo two at example dot com"),
    ],
)
def test_number_forms_leave_these_alone(text, words):
    assert english_cleaners(text) == words


def test_number_forms_keep_arpabet_braces():
    ids = text_to_sequence("at 3pm {HH AH0 L OW1} 3/4")
    assert sequence_to_text(ids) == "at three p.m. {HH AH0 L OW1} three quarters"
