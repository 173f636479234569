"""How people ask for each built-in tool: argument samplers, request templates, answer templates, call chains.

Why a separate module: the tools (``builtin_tools``) are pure functions; this is the data that turns them into
conversations. Samplers draw from realistic ranges, including values a tool rejects (an unknown city, a book
the store does not carry, 60! when the limit is 50), so the executed-and-filtered pipeline has real failures to
filter, as in Llama 3's recipe. A user registering their own tool adds a :class:`Task` for it the same way.

Templates are ``str.format`` strings written here (never data); the values they receive are plain data.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tooljudge.data_prep import builtin_tools as bt

Args = dict[str, Any]


def fmt(x: Any) -> str:
    """Numbers as people write them (no trailing .0); everything else via ``str``."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.6f}".rstrip("0").rstrip(".")
    return str(x)


@dataclass(frozen=True)
class Task:
    """One tool as users ask for it.

    ``sample(rng)`` gives arguments; ``requests`` are templates over the arguments plus ``view(args)``;
    ``answer(args, result)`` writes the reply from the real result; ``failing(rng)`` (optional) gives arguments
    that make the tool fail, for the tool-error generator.
    """

    tool: str
    sample: Callable[[random.Random], Args]
    requests: tuple[str, ...]
    answer: Callable[[Args, Any], str]
    view: Callable[[Args], dict] | None = None
    failing: Callable[[random.Random], Args] | None = None

    def request(self, args: Args, rng: random.Random) -> str:
        fields = {k: fmt(v) for k, v in args.items()}
        if self.view:
            fields.update(self.view(args))
        return rng.choice(self.requests).format(**fields)


# ------------------------------------------------------------------------------------------- value pools
UNKNOWN_CITIES = ["Lima", "Oslo", "Nairobi", "Reykjavik", "Hanoi"]
CITIES = [row["city"] for row in bt.WEATHER.values()]
UNKNOWN_ISBNS = ["9780000000001", "9781234567897", "9780306406157"]
UNKNOWN_FLIGHTS = ["ZZ100", "XY9", "QF1"]
AUTHORS = sorted({b["author"].split()[-1] for b in bt.BOOKS.values()})
TITLE_WORDS = ["pride", "cities", "expectations", "farm", "mockingbird", "gatsby", "hobbit", "rings", "crime",
               "peace", "frankenstein", "eyre", "heights", "moby", "dracula"]
ROUTES = sorted({(f["origin"], f["destination"]) for f in bt.FLIGHTS.values()})
PHRASES = [
    "the quick brown fox jumps over the lazy dog", "never odd or even", "a man a plan a canal panama",
    "to be or not to be that is the question", "all that glitters is not gold", "step on no pets",
    "machine learning models need good data", "was it a car or a cat i saw", "the early bird catches the worm",
    "hello world from the tool sandbox", "rain in spain stays mainly in the plain", "madam in eden im adam",
]
WORDS = ["apple", "pear", "plum", "kiwi", "fig", "lime", "date", "apple", "pear", "mango"]
UNIT_NAMES = {"mm": "millimeters", "cm": "centimeters", "m": "meters", "km": "kilometers", "in": "inches",
              "ft": "feet", "yd": "yards", "mi": "miles", "g": "grams", "kg": "kilograms", "t": "tonnes",
              "oz": "ounces", "lb": "pounds", "C": "Celsius", "F": "Fahrenheit", "K": "Kelvin"}


def _date(rng: random.Random) -> str:
    return (dt.date(1990, 1, 1) + dt.timedelta(days=rng.randrange(0, 40 * 365))).isoformat()


def _num(rng: random.Random, lo: float, hi: float, decimals: int = 1) -> float | int:
    value = round(rng.uniform(lo, hi), decimals)
    return int(value) if rng.random() < 0.5 else value


def _pick_city(rng: random.Random, p_unknown: float = 0.08) -> str:
    return rng.choice(UNKNOWN_CITIES if rng.random() < p_unknown else CITIES)


def _pick_isbn(rng: random.Random, p_unknown: float = 0.08) -> str:
    return rng.choice(UNKNOWN_ISBNS if rng.random() < p_unknown else sorted(bt.BOOKS))


def _pair(rng: random.Random, units: list[str]) -> tuple[str, str]:
    a, b = rng.sample(units, 2)
    return a, b


def _expr(rng: random.Random, ops: str = "+-*", depth: int = 2) -> str:
    if depth == 0 or rng.random() < 0.3:
        return str(rng.randint(1, 60))
    left, right = _expr(rng, ops, depth - 1), _expr(rng, ops, depth - 1)
    op = rng.choice(ops)
    text = f"{left} {op} {right}"
    return f"({text})" if rng.random() < 0.5 else text


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _units(args: Args) -> dict:
    return {"from_name": UNIT_NAMES[args["from_unit"]], "to_name": UNIT_NAMES[args["to_unit"]]}


def _books_answer(a: Args, r: list) -> str:
    if not r:
        return f"I found no books matching \"{a['query']}\"."
    return "I found " + _listing([f"{b['title']} by {b['author']} (ISBN {b['isbn']})" for b in r]) + "."


def _flights_answer(a: Args, r: list) -> str:
    if not r:
        return f"There are no direct flights from {a['origin']} to {a['destination']}."
    return (f"Direct flights from {a['origin']} to {a['destination']}: "
            + _listing([f"{f['flight_number']} at {f['departure']} for {fmt(f['price'])}" for f in r]) + ".")


TASKS: dict[str, Task] = {t.tool: t for t in [
    Task("calculate",
         lambda g: {"expression": _expr(g, "+-*/")},
         ("What is {expression}?", "Calculate {expression} for me.", "Can you work out {expression}?"),
         lambda a, r: f"{a['expression']} = {fmt(r)}.",
         failing=lambda g: {"expression": f"{g.randint(1, 99)} / 0"}),
    Task("convert_length",
         lambda g: dict(zip(("from_unit", "to_unit"), _pair(g, list(bt.LENGTH_M)), strict=True),
                        value=_num(g, 0.5, 500)),
         ("Convert {value} {from_name} to {to_name}.", "How many {to_name} is {value} {from_name}?"),
         lambda a, r: f"{fmt(a['value'])} {UNIT_NAMES[a['from_unit']]} is {fmt(r)} {UNIT_NAMES[a['to_unit']]}.",
         view=_units),
    Task("convert_mass",
         lambda g: dict(zip(("from_unit", "to_unit"), _pair(g, list(bt.MASS_KG)), strict=True),
                        value=_num(g, 0.5, 300)),
         ("Convert {value} {from_name} to {to_name}.", "How much is {value} {from_name} in {to_name}?"),
         lambda a, r: f"{fmt(a['value'])} {UNIT_NAMES[a['from_unit']]} is {fmt(r)} {UNIT_NAMES[a['to_unit']]}.",
         view=_units),
    Task("convert_temperature",
         lambda g: dict(zip(("from_unit", "to_unit"), _pair(g, ["C", "F", "K"]), strict=True),
                        value=_num(g, -40, 120)),
         ("Convert {value} degrees {from_name} to {to_name}.", "What is {value} {from_name} in {to_name}?"),
         lambda a, r: f"{fmt(a['value'])} {UNIT_NAMES[a['from_unit']]} is {fmt(r)} {UNIT_NAMES[a['to_unit']]}.",
         view=_units,
         failing=lambda g: {"value": -g.randint(300, 500), "from_unit": "C", "to_unit": "K"}),
    Task("greatest_common_divisor",
         lambda g: {"a": g.randint(2, 500) * g.choice([1, 2, 3, 6]), "b": g.randint(2, 500) * g.choice([1, 2, 6])},
         ("What is the greatest common divisor of {a} and {b}?", "Find the GCD of {a} and {b}."),
         lambda a, r: f"The greatest common divisor of {a['a']} and {a['b']} is {r}."),
    Task("is_prime",
         lambda g: {"n": g.randint(2, 10000)},
         ("Is {n} a prime number?", "Check whether {n} is prime."),
         lambda a, r: f"{a['n']} is {'' if r else 'not '}a prime number."),
    Task("factorial",
         lambda g: {"n": g.randint(0, 56)},
         ("What is {n} factorial?", "Compute {n}!"),
         lambda a, r: f"{a['n']}! = {r}.",
         failing=lambda g: {"n": g.randint(51, 100)}),
    Task("compound_interest",
         lambda g: {"principal": g.choice([500, 1000, 2500, 10000, 750.5]), "annual_rate_percent": _num(g, 0.5, 9),
                    "years": g.randint(1, 30)},
         ("If I deposit {principal} at {annual_rate_percent}% a year compounded monthly, what do I have after "
          "{years} years?", "What will {principal} grow to in {years} years at {annual_rate_percent}% interest "
          "compounded monthly?"),
         lambda a, r: f"After {a['years']} years, {fmt(a['principal'])} grows to {fmt(r)}."),
    Task("percentage_of",
         lambda g: {"percent": _num(g, 1, 95), "value": _num(g, 10, 5000, 2)},
         ("What is {percent}% of {value}?", "How much is {percent} percent of {value}?"),
         lambda a, r: f"{fmt(a['percent'])}% of {fmt(a['value'])} is {fmt(r)}."),
    Task("describe_numbers",
         lambda g: {"values": [float(_num(g, 0, 100)) for _ in range(g.randint(3, 7))]},  # float items: BFCL rejects ints in number arrays
         ("Give me the mean and standard deviation of {values}.", "Summarise these numbers: {values}."),
         lambda a, r: f"For {r['count']} numbers the mean is {fmt(r['mean'])}, the median {fmt(r['median'])} and "
                      f"the standard deviation {fmt(r['stdev'])} (range {fmt(r['min'])} to {fmt(r['max'])}).",
         view=lambda a: {"values": ", ".join(fmt(v) for v in a["values"])}),
    Task("days_between",
         lambda g: {"start_date": _date(g), "end_date": _date(g)},
         ("How many days are there from {start_date} to {end_date}?", "Count the days between {start_date} and "
          "{end_date}."),
         lambda a, r: f"From {a['start_date']} to {a['end_date']} is {r} days."),
    Task("add_days",
         lambda g: {"date": _date(g), "days": g.randint(-400, 400)},
         ("What date is {days} days after {date}?", "Add {days} days to {date}."),
         lambda a, r: f"{a['days']} days after {a['date']} is {r}."),
    Task("day_of_week",
         lambda g: {"date": _date(g)},
         ("What day of the week is {date}?", "Which weekday was {date}?"),
         lambda a, r: f"{a['date']} is a {r}.",
         failing=lambda g: {"date": f"{g.randint(1990, 2030)}-02-{g.randint(30, 31)}"}),
    Task("is_leap_year",
         lambda g: {"year": g.randint(1600, 2400)},
         ("Is {year} a leap year?", "Was {year} a leap year?"),
         lambda a, r: f"{a['year']} is {'' if r else 'not '}a leap year."),
    Task("days_in_month",
         lambda g: {"year": g.randint(1900, 2100), "month": g.randint(1, 12)},
         ("How many days does month {month} of {year} have?", "Number of days in {year}, month {month}?"),
         lambda a, r: f"Month {a['month']} of {a['year']} has {r} days.",
         failing=lambda g: {"year": g.randint(1900, 2100), "month": g.randint(13, 20)}),
    Task("search_books",
         lambda g: {"query": g.choice(AUTHORS + TITLE_WORDS)},
         ("Do you have any books matching \"{query}\"?", "Search the store for \"{query}\"."),
         _books_answer),
    Task("get_book_details",
         lambda g: {"isbn": _pick_isbn(g)},
         ("Tell me about the book with ISBN {isbn}.", "What are the details of ISBN {isbn}?"),
         lambda a, r: f"{r['title']} by {r['author']} ({r['year']}) costs {fmt(r['price'])}.",
         failing=lambda g: {"isbn": g.choice(UNKNOWN_ISBNS)}),
    Task("check_book_stock",
         lambda g: {"isbn": _pick_isbn(g)},
         ("How many copies of ISBN {isbn} are in stock?", "Is the book {isbn} in stock?"),
         lambda a, r: f"There are {r['in_stock']} copies of {r['title']} in stock.",
         failing=lambda g: {"isbn": g.choice(UNKNOWN_ISBNS)}),
    Task("book_order_total",
         lambda g: {"isbn": _pick_isbn(g, 0.0), "quantity": g.randint(1, 8)},
         ("How much would {quantity} copies of ISBN {isbn} cost?", "Price {quantity} copies of book {isbn}."),
         lambda a, r: f"{r['quantity']} copies of {r['title']} cost {fmt(r['total'])} in total.",
         failing=lambda g: {"isbn": g.choice(["9780141439563", "9780141439556"]), "quantity": g.randint(1, 5)}),
    Task("get_weather",
         lambda g: {"city": _pick_city(g), **({"unit": g.choice(["celsius", "fahrenheit"])} if g.random() < 0.5
                                             else {})},
         ("What's the weather like in {city}{in_unit}?", "How warm is it in {city} right now{in_unit}?"),
         lambda a, r: f"In {r['city']} it is {fmt(r['temperature'])} degrees {r['unit']}, {r['condition']}, "
                      f"with {r['humidity']}% humidity.",
         view=lambda a: {"in_unit": f" in {a['unit']}" if "unit" in a else ""},
         failing=lambda g: {"city": g.choice(UNKNOWN_CITIES)}),
    Task("get_forecast",
         lambda g: {"city": _pick_city(g), "days": g.randint(1, 7)},
         ("What's the forecast for {city} for the next {days} days?", "Give me a {days}-day forecast for {city}."),
         lambda a, r: f"Forecast for {a['city']}: " + "; ".join(
             f"day {d['day']} {fmt(d['high_c'])} C and {d['condition']}" for d in r) + ".",
         failing=lambda g: {"city": g.choice(UNKNOWN_CITIES), "days": g.randint(1, 7)}),
    Task("search_flights",
         lambda g: dict(zip(("origin", "destination"),
                            g.choice(ROUTES) if g.random() < 0.7 else g.sample(sorted(bt.AIRPORTS), 2), strict=True)),
         ("Find direct flights from {origin} to {destination}.", "Are there flights from {origin} to {destination}?"),
         _flights_answer,
         failing=lambda g: {"origin": g.choice(["XXX", "ABC", "QQQ"]), "destination": g.choice(sorted(bt.AIRPORTS))}),
    Task("get_flight_status",
         lambda g: {"flight_number": g.choice(UNKNOWN_FLIGHTS if g.random() < 0.08 else sorted(bt.FLIGHTS))},
         ("What's the status of flight {flight_number}?", "Is flight {flight_number} on time?"),
         lambda a, r: f"Flight {r['flight_number']} from {r['origin']} to {r['destination']} departs at "
                      f"{r['departure']} and is {r['status']}.",
         failing=lambda g: {"flight_number": g.choice(UNKNOWN_FLIGHTS)}),
    Task("get_airport_info",
         lambda g: {"code": g.choice(sorted(bt.AIRPORTS))},
         ("Which airport has the code {code}?", "Tell me about airport {code}."),
         lambda a, r: f"{a['code']} is {r['name']} in {r['city']}, {r['country']}.",
         failing=lambda g: {"code": g.choice(["XXX", "ABC", "QQQ"])}),
    Task("count_words",
         lambda g: {"text": g.choice(PHRASES)},
         ("How many words are in \"{text}\"?", "Count the words in: \"{text}\""),
         lambda a, r: f"That text has {r} words."),
    Task("reverse_text",
         lambda g: {"text": g.choice(PHRASES)},
         ("Reverse the text \"{text}\".", "Write \"{text}\" backwards."),
         lambda a, r: f"Reversed: \"{r}\"."),
    Task("change_case",
         lambda g: {"text": g.choice(PHRASES), "case": g.choice(["upper", "lower", "title"])},
         ("Convert \"{text}\" to {case} case.", "Put \"{text}\" in {case} case."),
         lambda a, r: f"In {a['case']} case: \"{r}\"."),
    Task("is_palindrome",
         lambda g: {"text": g.choice(PHRASES)},
         ("Is \"{text}\" a palindrome?", "Check if \"{text}\" reads the same backwards."),
         lambda a, r: f"\"{a['text']}\" is {'' if r else 'not '}a palindrome."),
    Task("count_occurrences",
         lambda g: {"text": g.choice(PHRASES), "substring": g.choice(["the", "a", "in", "o", "an", "is"])},
         ("How many times does \"{substring}\" occur in \"{text}\"?", "Count \"{substring}\" in \"{text}\"."),
         lambda a, r: f"\"{a['substring']}\" occurs {r} times."),
    Task("sort_numbers",
         lambda g: {"values": [float(_num(g, -50, 50)) for _ in range(g.randint(3, 7))],
                    **({"descending": True} if g.random() < 0.4 else {})},
         ("Sort these numbers{order}: {values}.", "Put {values} in {order_word} order."),
         lambda a, r: "Sorted: " + ", ".join(fmt(v) for v in r) + ".",
         view=lambda a: {"values": ", ".join(fmt(v) for v in a["values"]),
                         "order": " from largest to smallest" if a.get("descending") else "",
                         "order_word": "descending" if a.get("descending") else "ascending"}),
    Task("unique_items",
         lambda g: {"items": [g.choice(WORDS) for _ in range(g.randint(4, 8))]},
         ("Remove the duplicates from: {items}.", "Which distinct items are in {items}?"),
         lambda a, r: "Without duplicates: " + ", ".join(r) + ".",
         view=lambda a: {"items": ", ".join(a["items"])}),
]}


# --------------------------------------------------------------------------------------------- chains
@dataclass(frozen=True)
class Chain:
    """Calls where each step's arguments come from the previous results (nested / multi-step rows).

    ``steps[k](vars, results)`` returns ``(tool, args)`` or None when the previous result gives nothing to go on
    (the row is then dropped as a dead end).
    """

    name: str
    sample: Callable[[random.Random], dict]
    requests: tuple[str, ...]
    steps: tuple[Callable[[dict, list], tuple[str, Args] | None], ...]
    answer: Callable[[dict, list], str]


def _first(key: str, field: str, tool: str, extra: Callable[[dict], dict] | None = None):
    def step(v: dict, results: list):
        prev = results[-1]
        if isinstance(prev, list):
            if not prev:
                return None
            prev = prev[0]
        return tool, {key: prev[field], **(extra(v) if extra else {})}
    return step


def _route(g: random.Random) -> dict:
    o, d = g.choice(ROUTES) if g.random() < 0.8 else g.sample(sorted(bt.AIRPORTS), 2)
    return {"origin": o, "destination": d}


CHAINS: dict[int, list[Chain]] = {
    2: [
        Chain("book_stock", lambda g: {"query": g.choice(AUTHORS + TITLE_WORDS)},
              ("Find a book matching \"{query}\" and tell me how many copies are in stock.",
               "Is the first book you find for \"{query}\" in stock?"),
              (lambda v, r: ("search_books", {"query": v["query"]}),
               _first("isbn", "isbn", "check_book_stock")),
              lambda v, r: f"{r[1]['title']} (ISBN {r[1]['isbn']}) has {r[1]['in_stock']} copies in stock."),
        Chain("flight_status", _route,
              ("What is the status of the first direct flight from {origin} to {destination}?",),
              (lambda v, r: ("search_flights", dict(v)),
               _first("flight_number", "flight_number", "get_flight_status")),
              lambda v, r: f"The first flight, {r[1]['flight_number']}, departs {r[1]['origin']} at "
                           f"{r[1]['departure']} and is {r[1]['status']}."),
        Chain("weekday_after", lambda g: {"date": _date(g), "days": g.randint(1, 500)},
              ("What day of the week is it {days} days after {date}?",),
              (lambda v, r: ("add_days", dict(v)), lambda v, r: ("day_of_week", {"date": r[0]})),
              lambda v, r: f"{v['days']} days after {v['date']} is {r[0]}, a {r[1]}."),
        Chain("weather_kelvin", lambda g: {"city": _pick_city(g, 0.05)},
              ("What's the temperature in {city} in Kelvin?",),
              (lambda v, r: ("get_weather", {"city": v["city"]}),
               lambda v, r: ("convert_temperature", {"value": r[0]["temperature"], "from_unit": "C",
                                                     "to_unit": "K"})),
              lambda v, r: f"It is {fmt(r[0]['temperature'])} C in {r[0]['city']}, which is {fmt(r[1])} K."),
        Chain("prime_result", lambda g: {"expression": _expr(g, "+-*")},
              ("Compute {expression} and tell me whether the result is prime.",),
              (lambda v, r: ("calculate", dict(v)),
               lambda v, r: ("is_prime", {"n": r[0]}) if isinstance(r[0], int) else None),
              lambda v, r: f"{v['expression']} = {r[0]}, which is {'' if r[1] else 'not '}prime."),
        Chain("flight_airport", lambda g: {"flight_number": g.choice(sorted(bt.FLIGHTS))},
              ("Where does flight {flight_number} land? Give me the airport's name.",),
              (lambda v, r: ("get_flight_status", dict(v)), _first("code", "destination", "get_airport_info")),
              lambda v, r: f"Flight {v['flight_number']} lands at {r[1]['name']} ({r[1]['code']}) in "
                           f"{r[1]['city']}."),
    ],
    3: [
        Chain("book_order", lambda g: {"query": g.choice(AUTHORS), "quantity": g.randint(1, 4)},
              ("Find a book by {query}, tell me when it was published, and what {quantity} copies would cost.",),
              (lambda v, r: ("search_books", {"query": v["query"]}),
               _first("isbn", "isbn", "get_book_details"),
               lambda v, r: ("book_order_total", {"isbn": r[1]["isbn"], "quantity": v["quantity"]})),
              lambda v, r: f"{r[1]['title']} by {r[1]['author']} was published in {r[1]['year']}; "
                           f"{v['quantity']} copies cost {fmt(r[2]['total'])}."),
        Chain("flight_trip", _route,
              ("I want to fly from {origin} to {destination}: take the first direct flight, check its status, and "
               "tell me about the arrival airport.",),
              (lambda v, r: ("search_flights", dict(v)),
               _first("flight_number", "flight_number", "get_flight_status"),
               _first("code", "destination", "get_airport_info")),
              lambda v, r: f"Flight {r[1]['flight_number']} departs at {r[1]['departure']} and is {r[1]['status']}; "
                           f"it arrives at {r[2]['name']} in {r[2]['city']}, {r[2]['country']}."),
        Chain("weather_outlook", lambda g: {"city": _pick_city(g, 0.05), "days": g.randint(2, 7)},
              ("What's the weather in {city} now, and what is the average high over the next {days} days?",),
              (lambda v, r: ("get_weather", {"city": v["city"]}),
               lambda v, r: ("get_forecast", dict(v)),
               lambda v, r: ("describe_numbers", {"values": [d["high_c"] for d in r[1]]})),
              lambda v, r: f"It is {fmt(r[0]['temperature'])} degrees and {r[0]['condition']} in {r[0]['city']}; "
                           f"the average high over the next {v['days']} days is {fmt(r[2]['mean'])} C."),
        Chain("date_trip", lambda g: {"date": _date(g), "days": g.randint(2, 60)},
              ("I leave on {date} and stay {days} days. On what date and weekday do I return, and is that year a "
               "leap year?",),
              (lambda v, r: ("add_days", dict(v)), lambda v, r: ("day_of_week", {"date": r[0]}),
               lambda v, r: ("is_leap_year", {"year": int(r[0][:4])})),
              lambda v, r: f"You return on {r[1]} {r[0]}; {r[0][:4]} is {'' if r[2] else 'not '}a leap year."),
    ],
}

SYSTEM_PROMPTS = (
    "You are a helpful assistant with access to tools. Call a tool when it helps; otherwise answer directly.",
    "You are an assistant that can call functions. Use them only when the request needs them.",
    "You help users by calling the available tools and explaining their results.",
)

IRRELEVANT_REPLY = "I can't do that with the tools available here ({tools}): none of them fits this request."
ERROR_REPLY = "Sorry, I couldn't complete that: the {tool} tool reported an error ({reason})."
FOLLOW_UPS = ("Thanks! {request}", "Great. Now {request_lc}", "One more thing: {request_lc}", "{request}")
