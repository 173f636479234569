"""Domain specs for the generated tool world: entities with typed attributes, per domain.

Why: breadth of tools (APIGen, ToolACE) is what teaches a model to read an unseen schema, but random schemas
teach nothing real. Each domain here is a small, plausible business (a help desk, a clinic, a car rental) with
entities whose attributes have real types, ranges, enum members and value pools; ``tool_world_schemas`` turns
every entity into a family of tools (get, search, create, set one field, ...) combinatorially, and
``tool_world_state`` fills each entity with records and executes the tools against them.

Attribute flags: ``mutable`` attributes get setters and may be changed by ``update``; ``filter`` attributes
can be searched on (enum/text/bool: exact match, numbers: a range). A ``ref`` attribute holds the ID of a record
of another entity in the same domain (a ticket's agent), which is what nested calls follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("text", "enum", "int", "num", "bool", "date", "ref", "tags")


@dataclass(frozen=True)
class Attr:
    """One attribute of an entity. ``noun`` is how people say it ("priority", "daily rate")."""

    name: str
    kind: str
    noun: str
    values: tuple = ()  # enum members, or the pool text/tags values are drawn from
    lo: float = 0
    hi: float = 0
    unit: str = ""
    mutable: bool = False
    filter: bool = False
    ref: str = ""  # entity name for kind "ref"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"attribute {self.name}: unknown kind {self.kind!r}")
        if self.kind in ("enum", "text", "tags") and len(self.values) < 2:
            raise ValueError(f"attribute {self.name}: a {self.kind} attribute needs a pool of values")
        if self.kind in ("int", "num") and not self.lo < self.hi:
            raise ValueError(f"attribute {self.name}: needs a range lo < hi")
        if self.kind == "ref" and not self.ref:
            raise ValueError(f"attribute {self.name}: a ref attribute names its entity")


@dataclass(frozen=True)
class Entity:
    """A kind of record. ``label`` is the attribute that names a record; ``create`` the attributes a new record
    needs; ``remove`` is (verb, past tense, status attribute or "", terminal status or ""): with a status the
    record is kept and its status set (an order is cancelled), without one it is deleted."""

    name: str
    plural: str
    noun: str
    prefix: str
    label: str
    attrs: tuple[Attr, ...]
    create: tuple[str, ...]
    remove: tuple[str, str, str, str] = ("delete", "deleted", "", "")

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(f"{self.name} has no attribute {name!r}")


@dataclass(frozen=True)
class Domain:
    """A business with its entities; ``prefix`` namespaces its tool names (``helpdesk_get_ticket``)."""

    name: str
    prefix: str
    title: str
    entities: tuple[Entity, ...] = field(default_factory=tuple)


# ------------------------------------------------------------------------------------------ constructors
def txt(name, pool, noun=None, **kw) -> Attr:
    return Attr(name, "text", noun or name.replace("_", " "), tuple(pool), **kw)


def enum(name, values, noun=None, **kw) -> Attr:
    return Attr(name, "enum", noun or name.replace("_", " "), tuple(values), **kw)


def intg(name, lo, hi, unit="", noun=None, **kw) -> Attr:
    return Attr(name, "int", noun or name.replace("_", " "), lo=lo, hi=hi, unit=unit, **kw)


def num(name, lo, hi, unit="", noun=None, **kw) -> Attr:
    return Attr(name, "num", noun or name.replace("_", " "), lo=lo, hi=hi, unit=unit, **kw)


def flag(name, noun=None, **kw) -> Attr:
    return Attr(name, "bool", noun or name.replace("_", " "), **kw)


def date(name, lo=2025, hi=2027, noun=None, **kw) -> Attr:
    return Attr(name, "date", noun or name.replace("_", " "), lo=lo, hi=hi, **kw)


def ref(name, entity, noun=None, **kw) -> Attr:
    return Attr(name, "ref", noun or name.replace("_", " ").replace(" id", " ID"), ref=entity, **kw)


def tags(name, pool, noun=None, **kw) -> Attr:
    return Attr(name, "tags", noun or name.replace("_", " "), tuple(pool), **kw)


M, F, MF = {"mutable": True}, {"filter": True}, {"mutable": True, "filter": True}

# ------------------------------------------------------------------------------------------------ pools
PEOPLE = ("Maria Lopez", "James Chen", "Aisha Khan", "Tomas Novak", "Priya Raman", "Lukas Weber", "Emma Dubois",
          "Kenji Sato", "Olivia Brown", "Mateo Rossi", "Sofia Almeida", "Noah Fischer", "Chloe Martin",
          "Ravi Patel", "Hannah Berg", "Diego Herrera", "Yuki Tanaka", "Amara Okafor", "Liam Walsh", "Ines Costa")
CITIES = ("Lisbon", "Porto", "Valencia", "Lyon", "Munich", "Vienna", "Krakow", "Dublin", "Seattle", "Denver",
          "Austin", "Montreal", "Osaka", "Melbourne", "Auckland", "Cape Town")
COMPANIES = ("Northwind Traders", "Bluefin Labs", "Acorn Logistics", "Harbor Health", "Quarry Analytics",
             "Silverline Media", "Copperleaf Foods", "Brightside Energy", "Tidewater Marine", "Kestrel Robotics",
             "Maple Grove Farms", "Summit Outfitters")
STREETS = ("12 Elm Street", "48 Harbor Road", "7 Mill Lane", "230 Oak Avenue", "91 Station Road", "5 Birch Close",
           "66 River Walk", "18 Chapel Row", "303 Lake Drive", "40 Market Square", "9 Orchard Way", "150 Hill Crest")


def _emails(names: tuple[str, ...], host: str) -> tuple[str, ...]:
    return tuple(n.lower().replace(" ", ".") + "@" + host for n in names)


# ----------------------------------------------------------------------------------------------- domains
DOMAINS: tuple[Domain, ...] = (
    Domain("helpdesk", "helpdesk", "customer support desk", (
        Entity("ticket", "tickets", "support ticket", "TCK", "subject", (
            txt("subject", ("Password reset fails", "Invoice shows wrong VAT", "App crashes on login",
                            "Cannot export reports", "Refund not received", "Two-factor code never arrives",
                            "Dashboard loads slowly", "Duplicate charge on card", "Shipping label missing",
                            "Account locked after update")),
            enum("priority", ("low", "normal", "high", "urgent"), **MF),
            enum("status", ("open", "pending", "solved", "closed"), **MF),
            enum("channel", ("email", "chat", "phone", "web form"), **F),
            intg("age_hours", 1, 240, "hours", "age", **F),
            txt("requester_email", _emails(PEOPLE[:12], "example.com"), "requester email"),
            ref("agent_id", "agent", "assigned agent ID", **M),
            flag("escalated", **M)),
            ("subject", "priority", "channel", "requester_email"), ("close", "closed", "status", "closed")),
        Entity("agent", "agents", "support agent", "AGT", "full_name", (
            txt("full_name", PEOPLE[:12], "name"),
            enum("team", ("billing", "technical", "onboarding", "returns"), **MF),
            enum("shift", ("early", "day", "late", "night"), **MF),
            intg("open_tickets", 0, 40, "tickets", "open ticket count", **F),
            num("satisfaction_score", 1, 5, "", "satisfaction score", **F),
            flag("on_leave", "on leave", **MF)),
            ("full_name", "team", "shift")),
    )),
    Domain("shop", "shop", "online store", (
        Entity("product", "products", "product", "PRD", "title", (
            txt("title", ("Trail Running Shoe", "Ceramic Pour-Over Kettle", "Wool Beanie", "Noise-Cancelling Headset",
                          "Bamboo Cutting Board", "Insulated Water Bottle", "Linen Duvet Cover", "Desk Lamp with USB",
                          "Yoga Mat Pro", "Cast Iron Skillet", "Rain Shell Jacket", "Mechanical Keyboard")),
            enum("category", ("footwear", "kitchen", "apparel", "electronics", "home", "sports"), **F),
            num("price", 4.5, 350, "EUR", **MF),
            intg("stock", 0, 500, "units", "stock level", **MF),
            txt("brand", ("Fjordline", "Northpeak", "Kitsu", "Verano", "Oakhaus", "Lumen & Co"), **F),
            flag("on_sale", "on sale", **MF)),
            ("title", "category", "price", "brand")),
        Entity("order", "orders", "order", "ORD", "customer_name", (
            txt("customer_name", PEOPLE, "customer name", **F),
            ref("product_id", "product", "product ID"),
            intg("quantity", 1, 20, "items", **M),
            enum("status", ("placed", "packed", "shipped", "delivered", "cancelled"), **MF),
            enum("shipping_method", ("standard", "express", "pickup"), "shipping method", **MF),
            num("order_total", 5, 2000, "EUR", "order total", **F),
            flag("gift_wrap", "gift wrap", **M)),
            ("customer_name", "product_id", "quantity"), ("cancel", "cancelled", "status", "cancelled")),
        Entity("coupon", "coupons", "coupon", "CPN", "code", (
            txt("code", ("SPRING15", "WELCOME10", "FREESHIP", "VIP25", "BUNDLE5", "AUTUMN20", "FLASH30", "LOYAL12")),
            intg("discount_percent", 5, 50, "percent", "discount", **MF),
            num("minimum_spend", 0, 200, "EUR", "minimum spend", **MF),
            intg("uses_left", 0, 1000, "uses", "remaining uses", **MF),
            flag("active", **MF)),
            ("code", "discount_percent")),
    )),
    Domain("hr", "hr", "human resources system", (
        Entity("employee", "employees", "employee", "EMP", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("department", ("engineering", "sales", "finance", "marketing", "operations", "legal"), **MF),
            txt("job_title", ("Data Analyst", "Account Executive", "Site Reliability Engineer", "Payroll Specialist",
                              "Product Marketer", "Office Manager", "Staff Accountant", "Paralegal"), "job title", **M),
            intg("salary", 32000, 180000, "USD", "annual salary", **MF),
            date("hire_date", 2012, 2026, "hire date"),
            intg("vacation_days_left", 0, 35, "days", "remaining vacation days", **MF),
            flag("remote", "remote", **MF)),
            ("full_name", "department", "job_title", "salary")),
        Entity("leave_request", "leave requests", "leave request", "LVR", "reason", (
            txt("reason", ("family wedding", "medical appointment", "moving house", "conference travel",
                           "parental leave", "annual holiday", "jury duty", "school event")),
            ref("employee_id", "employee", "employee ID"),
            enum("leave_type", ("vacation", "sick", "unpaid", "parental"), "leave type", **F),
            intg("days", 1, 30, "days", "length", **MF),
            date("start_date", 2026, 2027, "start date", **M),
            enum("status", ("submitted", "approved", "rejected", "withdrawn"), **MF)),
            ("employee_id", "leave_type", "days", "start_date"), ("withdraw", "withdrawn", "status", "withdrawn")),
        Entity("job_opening", "job openings", "job opening", "JOB", "position", (
            txt("position", ("Backend Engineer", "Regional Sales Lead", "Financial Controller", "UX Researcher",
                             "Warehouse Supervisor", "Compliance Officer", "Content Strategist", "IT Support Technician")),
            enum("department", ("engineering", "sales", "finance", "marketing", "operations", "legal"), **F),
            enum("seniority", ("junior", "mid", "senior", "lead"), **MF),
            intg("headcount", 1, 10, "positions", **MF),
            intg("applicants", 0, 400, "applicants", "applicant count", **F),
            flag("remote_friendly", "remote friendly", **MF)),
            ("position", "department", "seniority")),
    )),
    Domain("crm", "crm", "sales CRM", (
        Entity("lead", "leads", "sales lead", "LED", "company", (
            txt("company", COMPANIES, **F),
            txt("contact_name", PEOPLE, "contact name"),
            enum("stage", ("new", "qualified", "proposal", "negotiation", "won", "lost"), **MF),
            num("estimated_value", 1000, 250000, "USD", "estimated value", **MF),
            enum("source", ("webinar", "referral", "cold call", "trade show", "website"), **F),
            intg("score", 0, 100, "points", "lead score", **MF)),
            ("company", "contact_name", "source")),
        Entity("account", "accounts", "customer account", "ACC", "account_name", (
            txt("account_name", COMPANIES, "account name"),
            enum("industry", ("retail", "healthcare", "manufacturing", "software", "logistics"), **F),
            intg("employee_count", 5, 20000, "employees", "employee count", **F),
            enum("tier", ("bronze", "silver", "gold", "platinum"), **MF),
            txt("country", ("Portugal", "Germany", "Canada", "Japan", "Brazil", "Kenya", "Australia", "Ireland"), **F),
            num("annual_revenue", 0.1, 900, "million USD", "annual revenue", **F)),
            ("account_name", "industry", "country")),
        Entity("sales_call", "sales calls", "sales call", "CAL", "topic", (
            txt("topic", ("pricing review", "product demo", "contract renewal", "onboarding kickoff",
                          "quarterly check-in", "upsell discussion", "security questionnaire", "pilot results")),
            ref("lead_id", "lead", "lead ID"),
            intg("duration_minutes", 5, 120, "minutes", "duration", **F),
            enum("outcome", ("follow-up", "no answer", "positive", "negative"), **MF),
            flag("recorded", **F)),
            ("topic", "lead_id", "duration_minutes")),
    )),
    Domain("bank", "bank", "retail bank", (
        Entity("bank_account", "bank accounts", "bank account", "BAC", "holder", (
            txt("holder", PEOPLE, "account holder", **F),
            enum("account_type", ("checking", "savings", "business"), "account type", **F),
            num("balance", 0, 95000, "EUR", **F),
            enum("currency", ("EUR", "USD", "GBP", "CHF"), **F),
            num("overdraft_limit", 0, 5000, "EUR", "overdraft limit", **MF),
            flag("frozen", **MF)),
            ("holder", "account_type", "currency")),
        Entity("transaction", "transactions", "transaction", "TRX", "merchant", (
            txt("merchant", ("Corner Grocer", "City Transit", "Bluebird Cafe", "Helios Pharmacy", "Volt Mobile",
                             "Sunset Cinema", "Petal Florist", "Metro Fuel", "Bookish", "Spark Gym"), **F),
            ref("account_id", "bank_account", "account ID"),
            num("amount", 1, 3000, "EUR", **F),
            enum("category", ("groceries", "transport", "dining", "health", "utilities", "leisure"), **MF),
            date("booking_date", 2026, 2026, "booking date"),
            flag("disputed", **MF)),
            ("merchant", "account_id", "amount", "category")),
        Entity("payment_card", "payment cards", "payment card", "CRD", "cardholder", (
            txt("cardholder", PEOPLE),
            enum("network", ("visa", "mastercard", "amex"), **F),
            intg("monthly_limit", 500, 20000, "EUR", "monthly limit", **MF),
            enum("card_status", ("active", "blocked", "expired"), "card status", **MF),
            flag("contactless", **MF)),
            ("cardholder", "network", "monthly_limit"), ("block", "blocked", "card_status", "blocked")),
    )),
    Domain("hotel", "hotel", "hotel front desk", (
        Entity("room", "rooms", "room", "RM", "room_number", (
            txt("room_number", ("101", "102", "115", "204", "210", "222", "305", "318", "402", "410", "501", "512"),
                "room number"),
            enum("room_type", ("single", "double", "twin", "suite", "family"), "room type", **F),
            num("nightly_rate", 60, 650, "EUR", "nightly rate", **MF),
            intg("floor", 1, 5, "", **F),
            enum("housekeeping", ("clean", "dirty", "inspected", "out of order"), "housekeeping state", **MF),
            flag("sea_view", "sea view", **F)),
            ("room_number", "room_type", "nightly_rate", "floor")),
        Entity("stay", "stays", "reservation", "RSV", "guest_name", (
            txt("guest_name", PEOPLE, "guest name", **F),
            ref("room_id", "room", "room ID"),
            intg("nights", 1, 21, "nights", **MF),
            intg("adults", 1, 4, "adults", "number of adults", **M),
            date("check_in", 2026, 2027, "check-in date", **M),
            enum("status", ("booked", "checked in", "checked out", "cancelled"), **MF),
            flag("breakfast", "breakfast included", **M)),
            ("guest_name", "room_id", "nights", "check_in"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("restaurant", "bistro", "restaurant", (
        Entity("dish", "dishes", "menu dish", "DSH", "dish_name", (
            txt("dish_name", ("Roasted Beet Salad", "Mushroom Risotto", "Grilled Sea Bass", "Lamb Tagine",
                              "Margherita Flatbread", "Lemon Tart", "Chickpea Curry", "Beef Bourguignon",
                              "Tuna Tartare", "Chocolate Fondant"), "dish name"),
            enum("course", ("starter", "main", "dessert", "side"), **F),
            num("menu_price", 4, 45, "EUR", "menu price", **MF),
            intg("spice_level", 0, 5, "", "spice level", **MF),
            flag("vegetarian", **F),
            flag("available", "available today", **MF)),
            ("dish_name", "course", "menu_price")),
        Entity("table_booking", "table bookings", "table booking", "TBL", "party_name", (
            txt("party_name", PEOPLE, "name on the booking", **F),
            intg("party_size", 1, 12, "guests", "party size", **MF),
            txt("time_slot", ("18:00", "18:30", "19:00", "19:30", "20:00", "20:30", "21:00"), "time", **M),
            enum("area", ("terrace", "main room", "bar", "private room"), **MF),
            enum("status", ("confirmed", "seated", "no-show", "cancelled"), **MF),
            flag("high_chair", "high chair needed", **M)),
            ("party_name", "party_size", "time_slot"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("fleet", "fleet", "delivery fleet", (
        Entity("vehicle", "vehicles", "vehicle", "VEH", "plate", (
            txt("plate", ("KX-204-LM", "BR-118-QT", "ZD-550-AA", "HN-371-PE", "TT-902-CF", "LM-045-RS",
                          "QW-613-BN", "PE-777-KD", "FA-128-XO", "RU-349-JV"), "licence plate"),
            enum("vehicle_type", ("van", "box truck", "cargo bike", "pickup"), "vehicle type", **F),
            intg("odometer_km", 500, 320000, "km", "odometer reading", **F),
            intg("fuel_percent", 0, 100, "percent", "fuel level", **MF),
            enum("status", ("available", "on route", "maintenance", "retired"), **MF),
            txt("depot", ("North Depot", "Harbor Depot", "Airport Depot", "East Yard"), **MF)),
            ("plate", "vehicle_type", "depot"), ("retire", "retired", "status", "retired")),
        Entity("delivery", "deliveries", "delivery", "DLV", "recipient", (
            txt("recipient", COMPANIES, **F),
            txt("destination_city", CITIES, "destination city", **F),
            num("weight_kg", 0.5, 1500, "kg", "weight", **F),
            enum("status", ("scheduled", "in transit", "delivered", "failed"), **MF),
            enum("priority", ("economy", "standard", "express"), **MF),
            ref("vehicle_id", "vehicle", "vehicle ID", **M),
            flag("fragile", **F)),
            ("recipient", "destination_city", "weight_kg", "vehicle_id")),
    )),
    Domain("warehouse", "wms", "warehouse management system", (
        Entity("stock_item", "stock items", "stock item", "SKU", "item_name", (
            txt("item_name", ("Pallet Wrap 500mm", "Cardboard Box M", "Nitrile Gloves L", "Packing Tape Clear",
                              "Bubble Mailer A4", "Label Roll 100x150", "Shelf Bracket", "Safety Vest Orange",
                              "Zip Ties 300mm", "Barcode Scanner Battery"), "item name"),
            txt("bin_location", ("A-01-03", "A-04-01", "B-02-02", "B-07-05", "C-03-01", "C-09-04", "D-01-02"),
                "bin location", **MF),
            intg("on_hand", 0, 5000, "units", "quantity on hand", **MF),
            intg("reorder_point", 0, 800, "units", "reorder point", **MF),
            num("unit_cost", 0.05, 90, "USD", "unit cost", **F),
            flag("hazardous", **F)),
            ("item_name", "bin_location", "unit_cost")),
        Entity("supplier", "suppliers", "supplier", "SUP", "supplier_name", (
            txt("supplier_name", COMPANIES, "supplier name"),
            txt("country", ("Portugal", "Vietnam", "Mexico", "Poland", "Turkey", "Germany", "India"), **F),
            intg("lead_time_days", 1, 60, "days", "lead time", **MF),
            num("rating", 1, 5, "", "supplier rating", **MF),
            flag("preferred", "preferred supplier", **MF)),
            ("supplier_name", "country", "lead_time_days")),
        Entity("purchase_order", "purchase orders", "purchase order", "PO", "memo", (
            txt("memo", ("restock gloves", "Q3 packaging", "urgent tape", "holiday peak", "new line launch",
                         "safety audit", "monthly replenishment", "returns refurb")),
            ref("supplier_id", "supplier", "supplier ID"),
            intg("units", 10, 20000, "units", "unit count", **MF),
            enum("state", ("draft", "sent", "received", "cancelled"), **MF),
            flag("expedited", **M)),
            ("memo", "supplier_id", "units"), ("cancel", "cancelled", "state", "cancelled")),
    )),
    Domain("school", "school", "school administration", (
        Entity("student", "students", "student", "STU", "full_name", (
            txt("full_name", PEOPLE, "name"),
            intg("grade_level", 1, 12, "", "grade", **F),
            txt("homeroom", ("Room 3A", "Room 4B", "Room 7C", "Room 9A", "Room 11D"), **MF),
            num("gpa", 1.0, 4.0, "", "GPA", **F),
            intg("absences", 0, 40, "days", "absences this term", **MF),
            flag("enrolled", "currently enrolled", **MF)),
            ("full_name", "grade_level", "homeroom")),
        Entity("course", "courses", "course", "CRS", "course_title", (
            txt("course_title", ("Algebra II", "World History", "Chemistry", "Creative Writing", "Biology",
                                 "Computer Science Basics", "Spanish I", "Music Theory"), "course title"),
            enum("subject", ("math", "science", "humanities", "languages", "arts"), **F),
            intg("credits", 1, 6, "credits", **F),
            txt("teacher", PEOPLE[8:], **MF),
            intg("seat_limit", 10, 40, "seats", "seat limit", **MF)),
            ("course_title", "subject", "credits", "teacher")),
        Entity("homework", "homework assignments", "homework assignment", "HW", "assignment_title", (
            txt("assignment_title", ("Quadratic equations set", "Essay on the Renaissance", "Titration lab report",
                                     "Short story draft", "Cell diagram", "Loops worksheet", "Verb drill",
                                     "Scale practice log"), "assignment title"),
            ref("course_id", "course", "course ID"),
            date("due_date", 2026, 2026, "due date", **M),
            intg("max_points", 5, 100, "points", "maximum points", **MF),
            enum("state", ("assigned", "collected", "graded"), **MF)),
            ("assignment_title", "course_id", "due_date")),
    )),
    Domain("library", "libris", "public library", (
        Entity("patron", "patrons", "library patron", "PAT", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("membership", ("basic", "family", "student", "senior"), **MF),
            intg("active_loans", 0, 15, "loans", "active loans", **F),
            num("fines_due", 0, 60, "EUR", "fines due", **MF),
            txt("branch", ("Central", "Riverside", "Northgate", "Old Town"), "home branch", **MF)),
            ("full_name", "membership", "branch")),
        Entity("loan", "loans", "loan", "LN", "item_title", (
            txt("item_title", ("The Silent Orchard", "Deep Sea Atlas", "Learning Rust", "A Short History of Maps",
                               "Garden Birds", "Night Trains", "Cooking with Grains", "The Glass Harbor"),
                "item title", **F),
            ref("patron_id", "patron", "patron ID"),
            date("due_date", 2026, 2026, "due date", **M),
            intg("renewals", 0, 3, "renewals", "renewal count", **MF),
            enum("status", ("on loan", "overdue", "returned", "lost"), **MF)),
            ("item_title", "patron_id", "due_date")),
    )),
    Domain("clinic", "clinic", "outpatient clinic", (
        Entity("patient", "patients", "patient", "PT", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("blood_type", ("A+", "A-", "B+", "B-", "AB+", "O+", "O-"), "blood type", **F),
            intg("age", 0, 99, "years", **F),
            txt("insurer", ("Meridian Health", "CareFirst Mutual", "Alpine Insurance", "Civic Health Plan"),
                **MF),
            tags("allergies", ("penicillin", "latex", "peanuts", "pollen", "shellfish", "aspirin")),
            flag("consent_on_file", "consent on file", **M)),
            ("full_name", "blood_type", "age")),
        Entity("appointment", "appointments", "appointment", "APT", "doctor", (
            txt("doctor", ("Dr. Ito", "Dr. Mensah", "Dr. Varga", "Dr. Lindqvist", "Dr. Oyelaran", "Dr. Moreau"),
                **F),
            ref("patient_id", "patient", "patient ID"),
            enum("department", ("cardiology", "dermatology", "pediatrics", "orthopedics", "general practice"),
                 **F),
            date("visit_date", 2026, 2026, "visit date", **M),
            enum("status", ("scheduled", "checked in", "completed", "cancelled"), **MF),
            flag("telehealth", **MF)),
            ("doctor", "patient_id", "department", "visit_date"), ("cancel", "cancelled", "status", "cancelled")),
        Entity("prescription", "prescriptions", "prescription", "RX", "drug", (
            txt("drug", ("amoxicillin", "lisinopril", "metformin", "atorvastatin", "cetirizine", "omeprazole",
                         "sertraline", "ibuprofen"), "drug", **F),
            ref("patient_id", "patient", "patient ID"),
            intg("dose_mg", 5, 1000, "mg", "dose", **MF),
            intg("refills_left", 0, 6, "refills", "refills left", **MF),
            flag("active", **MF)),
            ("drug", "patient_id", "dose_mg")),
    )),
    Domain("realestate", "homes", "real estate agency", (
        Entity("listing", "listings", "property listing", "LST", "address", (
            txt("address", STREETS),
            txt("city", CITIES, **F),
            intg("asking_price", 90000, 2500000, "EUR", "asking price", **MF),
            intg("bedrooms", 0, 6, "bedrooms", **F),
            enum("property_type", ("apartment", "house", "townhouse", "studio"), "property type", **F),
            enum("status", ("active", "under offer", "sold", "withdrawn"), **MF),
            flag("garage", "has a garage", **F)),
            ("address", "city", "asking_price", "property_type"), ("withdraw", "withdrawn", "status", "withdrawn")),
        Entity("viewing", "viewings", "viewing", "VW", "client", (
            txt("client", PEOPLE, **F),
            ref("listing_id", "listing", "listing ID"),
            date("viewing_date", 2026, 2026, "viewing date", **M),
            enum("status", ("requested", "confirmed", "done", "cancelled"), **MF),
            intg("interest", 1, 5, "", "interest rating", **MF)),
            ("client", "listing_id", "viewing_date"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("events", "eventhub", "event ticketing platform", (
        Entity("event", "events", "event", "EVT", "event_title", (
            txt("event_title", ("Harbor Jazz Night", "Data Summit 2026", "Spring Craft Fair", "Indie Film Evening",
                                "City Half Marathon", "Robotics Expo", "Chamber Music Matinee", "Food Truck Rally"),
                "event title"),
            txt("venue", ("Pier 9 Hall", "Civic Arena", "Old Mill Loft", "Riverside Park", "Grand Theatre"), **F),
            intg("capacity", 50, 20000, "people", **MF),
            num("ticket_price", 0, 180, "EUR", "ticket price", **MF),
            enum("genre", ("music", "conference", "market", "film", "sport", "expo"), **F),
            enum("status", ("on sale", "sold out", "postponed", "cancelled"), **MF)),
            ("event_title", "venue", "capacity", "genre"), ("cancel", "cancelled", "status", "cancelled")),
        Entity("registration", "registrations", "registration", "REG", "attendee", (
            txt("attendee", PEOPLE, **F),
            ref("event_id", "event", "event ID"),
            enum("ticket_type", ("general", "vip", "student", "press"), "ticket type", **MF),
            intg("seats", 1, 8, "seats", **MF),
            flag("checked_in", "checked in", **MF)),
            ("attendee", "event_id", "ticket_type")),
    )),
    Domain("projects", "pm", "project tracker", (
        Entity("work_item", "work items", "work item", "WI", "summary", (
            txt("summary", ("Migrate billing cron", "Fix flaky login test", "Design onboarding emails",
                            "Add CSV export", "Upgrade database driver", "Write API docs", "Audit access logs",
                            "Localize checkout page", "Cut release 4.2", "Refactor search index")),
            enum("status", ("backlog", "in progress", "in review", "done"), **MF),
            enum("priority", ("p0", "p1", "p2", "p3"), **MF),
            num("estimate_hours", 0.5, 80, "hours", "estimate", **MF),
            txt("assignee", PEOPLE[:10], **MF),
            flag("blocked", **MF)),
            ("summary", "priority", "assignee")),
        Entity("sprint", "sprints", "sprint", "SPR", "sprint_name", (
            txt("sprint_name", ("Sprint Aurora", "Sprint Basalt", "Sprint Cedar", "Sprint Delta", "Sprint Ember",
                                "Sprint Fjord", "Sprint Granite", "Sprint Harbor"), "sprint name"),
            intg("planned_points", 5, 120, "points", "planned points", **MF),
            intg("completed_points", 0, 120, "points", "completed points", **F),
            enum("state", ("planned", "active", "closed"), **MF),
            date("end_date", 2026, 2026, "end date", **M)),
            ("sprint_name", "planned_points", "end_date"), ("close", "closed", "state", "closed")),
    )),
    Domain("cloud", "cloudops", "cloud operations console", (
        Entity("server", "servers", "server", "SRV", "hostname", (
            txt("hostname", ("api-eu-1", "api-us-2", "db-primary", "db-replica-3", "cache-01", "worker-07",
                             "ingest-02", "search-05", "batch-11", "edge-04"), "host name"),
            enum("region", ("eu-west", "eu-central", "us-east", "us-west", "ap-south"), **F),
            intg("vcpus", 1, 64, "vCPUs", "vCPU count", **F),
            intg("memory_gb", 1, 512, "GB", "memory", **MF),
            enum("power_state", ("running", "stopped", "rebooting"), "power state", **MF),
            enum("os_image", ("ubuntu-24.04", "debian-12", "rocky-9", "windows-2022"), "OS image", **F)),
            ("hostname", "region", "vcpus", "memory_gb")),
        Entity("alert_rule", "alert rules", "alert rule", "ALR", "rule_name", (
            txt("rule_name", ("High CPU", "Disk almost full", "Error rate spike", "Slow p99 latency",
                              "Replica lag", "Memory pressure", "Certificate expiry", "Queue backlog"), "rule name"),
            enum("metric", ("cpu", "disk", "errors", "latency", "memory", "queue depth"), **F),
            num("threshold", 1, 100, "", **MF),
            enum("severity", ("info", "warning", "critical"), **MF),
            flag("enabled", **MF)),
            ("rule_name", "metric", "threshold", "severity")),
        Entity("deployment", "deployments", "deployment", "DEP", "service", (
            txt("service", ("checkout", "search", "notifications", "auth", "reporting", "media"), **F),
            txt("release", ("v1.4.2", "v2.0.0", "v2.1.3", "v3.7.1", "v0.9.8", "v5.2.0"), "release tag"),
            enum("environment", ("staging", "production", "canary"), **F),
            intg("replicas", 1, 50, "replicas", "replica count", **MF),
            enum("status", ("pending", "rolling out", "healthy", "rolled back"), **MF)),
            ("service", "release", "environment"), ("roll back", "rolled back", "status", "rolled back")),
    )),
    Domain("gym", "gym", "fitness club", (
        Entity("club_member", "club members", "club member", "MBR", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("plan", ("off-peak", "standard", "premium"), "membership plan", **MF),
            intg("visits_this_month", 0, 31, "visits", "visits this month", **F),
            txt("home_club", ("Downtown", "Harbor", "Uptown", "Westside"), "home club", **MF),
            flag("frozen", "membership frozen", **MF)),
            ("full_name", "plan", "home_club")),
        Entity("fitness_class", "fitness classes", "fitness class", "CLS", "class_name", (
            txt("class_name", ("Morning Spin", "Power Yoga", "Kettlebell Basics", "Aqua Fit", "Boxing Circuit",
                               "Pilates Core", "HIIT Express", "Stretch and Recover"), "class name"),
            txt("coach", PEOPLE[10:], **MF),
            intg("spots", 4, 40, "spots", "class size", **MF),
            enum("level", ("beginner", "intermediate", "advanced"), **F),
            intg("duration_minutes", 20, 90, "minutes", "duration", **F)),
            ("class_name", "coach", "level")),
    )),
    Domain("music", "tunes", "music streaming service", (
        Entity("track", "tracks", "track", "TRK", "track_title", (
            txt("track_title", ("Paper Lanterns", "Northbound", "Glass Rivers", "Low Tide Radio", "Cinder",
                                "Marigold Hours", "Static Bloom", "Quiet Engines", "Saltwater Hymn", "Neon Orchard"),
                "track title"),
            txt("artist", ("The Harbor Lights", "Mira Vale", "Copper Fields", "Juno Park", "Ash & Ember"), **F),
            enum("genre", ("indie", "jazz", "electronic", "folk", "hip hop", "classical"), **F),
            intg("duration_seconds", 90, 600, "seconds", "duration", **F),
            intg("play_count", 0, 5000000, "plays", "play count", **F),
            flag("explicit", "explicit lyrics", **F)),
            ("track_title", "artist", "genre", "duration_seconds")),
        Entity("playlist", "playlists", "playlist", "PL", "playlist_name", (
            txt("playlist_name", ("Focus Flow", "Sunday Slow", "Road Trip Mix", "Rainy Commute", "Late Night Coding",
                                  "Kitchen Dance", "Gym Push", "Deep Sleep"), "playlist name"),
            txt("owner", PEOPLE, **F),
            enum("mood", ("calm", "upbeat", "dark", "romantic"), **MF),
            intg("track_count", 0, 300, "tracks", "track count", **F),
            flag("public", **MF)),
            ("playlist_name", "owner", "mood")),
    )),
    Domain("cinema", "cinema", "cinema chain", (
        Entity("screening", "screenings", "screening", "SCR", "film", (
            txt("film", ("The Last Lighthouse", "Orbit of Ash", "Summer in Tallinn", "Red Canyon", "Paper Moons",
                         "The Ninth Passenger", "Tides of Gold", "Little Giants"), **F),
            txt("auditorium", ("Hall 1", "Hall 2", "Hall 3", "IMAX Hall", "Studio B"), **F),
            intg("seats_left", 0, 320, "seats", "seats left", **MF),
            num("ticket_price", 5, 22, "EUR", "ticket price", **MF),
            enum("screen_format", ("2D", "3D", "IMAX", "4DX"), "format", **F),
            txt("start_time", ("13:15", "15:40", "18:00", "20:30", "22:45"), "start time", **M)),
            ("film", "auditorium", "start_time")),
        Entity("seat_booking", "seat bookings", "seat booking", "SBK", "customer", (
            txt("customer", PEOPLE, **F),
            ref("screening_id", "screening", "screening ID"),
            intg("tickets", 1, 10, "tickets", "ticket count", **MF),
            enum("status", ("reserved", "paid", "refunded"), **MF),
            flag("snack_bundle", "snack bundle", **M)),
            ("customer", "screening_id", "tickets"), ("refund", "refunded", "status", "refunded")),
    )),
    Domain("tours", "tours", "travel agency", (
        Entity("tour_package", "tour packages", "tour package", "TRP", "package_name", (
            txt("package_name", ("Alpine Lakes Explorer", "Andalusia by Rail", "Fjords and Glaciers",
                                 "Kyoto Temples Week", "Patagonia Trek", "Tuscany Food Trail", "Iceland Ring Road",
                                 "Moroccan Desert Nights"), "package name"),
            txt("destination", ("Switzerland", "Spain", "Norway", "Japan", "Argentina", "Italy", "Iceland",
                                "Morocco"), **F),
            intg("length_days", 3, 21, "days", "length", **F),
            num("price_per_person", 300, 6000, "EUR", "price per person", **MF),
            enum("difficulty", ("easy", "moderate", "challenging"), **F),
            flag("guided", **F)),
            ("package_name", "destination", "length_days")),
        Entity("trip_booking", "trip bookings", "trip booking", "TBK", "lead_traveler", (
            txt("lead_traveler", PEOPLE, "lead traveler", **F),
            ref("package_id", "tour_package", "package ID"),
            intg("travelers", 1, 9, "travelers", "number of travelers", **MF),
            date("departure_date", 2026, 2027, "departure date", **M),
            enum("status", ("quoted", "confirmed", "paid", "cancelled"), **MF),
            flag("travel_insurance", "travel insurance", **MF)),
            ("lead_traveler", "package_id", "travelers", "departure_date"),
            ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("carrental", "rentals", "car rental company", (
        Entity("rental_car", "rental cars", "rental car", "CAR", "model", (
            txt("model", ("Skoda Octavia", "Toyota Yaris", "VW Golf", "Kia Sportage", "Tesla Model 3",
                          "Fiat 500", "Volvo XC60", "Renault Kangoo"), **F),
            enum("car_class", ("economy", "compact", "suv", "electric", "van"), "car class", **F),
            num("daily_rate", 19, 189, "EUR", "daily rate", **MF),
            intg("seats", 2, 9, "seats", **F),
            enum("gearbox", ("manual", "automatic"), **F),
            flag("available", **MF)),
            ("model", "car_class", "daily_rate", "gearbox")),
        Entity("rental_agreement", "rental agreements", "rental agreement", "RA", "driver", (
            txt("driver", PEOPLE, **F),
            ref("car_id", "rental_car", "car ID"),
            intg("rental_days", 1, 30, "days", "rental length", **MF),
            txt("pickup_branch", ("Airport", "Central Station", "Harbor", "Old Town"), "pickup branch", **MF),
            enum("status", ("reserved", "active", "returned", "cancelled"), **MF),
            flag("full_coverage", "full coverage", **MF)),
            ("driver", "car_id", "rental_days", "pickup_branch"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("insurance", "insure", "insurance company", (
        Entity("policy", "policies", "insurance policy", "POL", "policyholder", (
            txt("policyholder", PEOPLE, **F),
            enum("line", ("auto", "home", "travel", "pet", "life"), "insurance line", **F),
            num("monthly_premium", 8, 450, "EUR", "monthly premium", **MF),
            intg("deductible", 0, 5000, "EUR", **MF),
            enum("status", ("active", "lapsed", "terminated"), **MF),
            flag("auto_renew", "automatic renewal", **MF)),
            ("policyholder", "line", "monthly_premium"), ("terminate", "terminated", "status", "terminated")),
        Entity("claim", "claims", "insurance claim", "CLM", "incident", (
            txt("incident", ("rear-end collision", "burst pipe", "lost luggage", "broken windscreen",
                             "storm damage", "stolen bicycle", "vet surgery", "kitchen fire")),
            ref("policy_id", "policy", "policy ID"),
            num("claimed_amount", 50, 60000, "EUR", "claimed amount", **F),
            enum("status", ("filed", "under review", "approved", "denied", "paid"), **MF),
            txt("adjuster", PEOPLE[12:], **MF)),
            ("incident", "policy_id", "claimed_amount")),
    )),
    Domain("energy", "grid", "energy utility", (
        Entity("meter", "meters", "electricity meter", "MTR", "service_address", (
            txt("service_address", STREETS, "service address"),
            enum("tariff", ("flat", "time of use", "green", "business"), **MF),
            intg("last_reading_kwh", 0, 90000, "kWh", "last reading", **F),
            enum("meter_kind", ("smart", "analog", "prepaid"), "meter type", **F),
            flag("solar_export", "solar export", **MF)),
            ("service_address", "tariff", "meter_kind")),
        Entity("outage", "outages", "power outage", "OUT", "area", (
            txt("area", ("Riverside", "Hilltop", "Old Port", "Industrial Park", "University Quarter", "Lakeshore"),
                **F),
            enum("cause", ("storm", "equipment failure", "planned work", "excavation damage"), **F),
            intg("customers_affected", 1, 40000, "customers", "customers affected", **F),
            enum("status", ("reported", "crew assigned", "restored"), **MF),
            intg("eta_hours", 0, 72, "hours", "estimated hours to restore", **MF)),
            ("area", "cause", "customers_affected")),
    )),
    Domain("smarthome", "home", "smart home hub", (
        Entity("device", "devices", "smart device", "DEV", "device_name", (
            txt("device_name", ("Hallway Light", "Kitchen Plug", "Living Room Thermostat", "Porch Camera",
                                "Bedroom Blinds", "Garage Door", "Office Speaker", "Nursery Humidifier"),
                "device name"),
            enum("room", ("kitchen", "living room", "bedroom", "hallway", "garage", "office"), **F),
            enum("power", ("on", "off"), "power state", **MF),
            intg("battery_percent", 0, 100, "percent", "battery level", **F),
            txt("firmware", ("3.1.0", "3.2.4", "4.0.1", "2.9.9"), "firmware version"),
            flag("online", **F)),
            ("device_name", "room")),
        Entity("routine", "routines", "automation routine", "RTN", "routine_name", (
            txt("routine_name", ("Good Morning", "Leaving Home", "Movie Night", "Bedtime", "Vacation Mode",
                                 "Welcome Back"), "routine name"),
            txt("trigger_time", ("06:30", "07:15", "08:00", "21:30", "22:45", "23:30"), "trigger time", **M),
            intg("light_level", 0, 100, "percent", "light level", **MF),
            flag("enabled", **MF)),
            ("routine_name", "trigger_time")),
    )),
    Domain("kitchen", "mealplan", "meal planning app", (
        Entity("recipe", "recipes", "recipe", "RCP", "recipe_name", (
            txt("recipe_name", ("Lentil Shepherd's Pie", "Miso Glazed Salmon", "Shakshuka", "Pumpkin Gnocchi",
                                "Thai Green Curry", "Black Bean Tacos", "Greek Lemon Chicken", "Overnight Oats"),
                "recipe name"),
            enum("cuisine", ("italian", "japanese", "mexican", "middle eastern", "thai", "greek", "british"), **F),
            intg("prep_minutes", 5, 180, "minutes", "preparation time", **F),
            intg("servings", 1, 12, "servings", **MF),
            intg("calories_per_serving", 80, 1400, "kcal", "calories per serving", **F),
            flag("vegan", **F)),
            ("recipe_name", "cuisine", "prep_minutes")),
        Entity("grocery_item", "grocery items", "grocery list item", "GRC", "item", (
            txt("item", ("oat milk", "red lentils", "baby spinach", "feta", "limes", "brown rice", "eggs",
                         "tortillas", "coconut milk", "cherry tomatoes")),
            enum("aisle", ("produce", "dairy", "pantry", "bakery", "frozen"), **F),
            intg("quantity", 1, 12, "", **MF),
            flag("purchased", **MF)),
            ("item", "aisle", "quantity")),
    )),
    Domain("vet", "vetcare", "veterinary practice", (
        Entity("pet", "pets", "pet", "PET", "pet_name", (
            txt("pet_name", ("Biscuit", "Luna", "Pepper", "Milo", "Hazel", "Otis", "Juniper", "Rocket", "Mochi",
                             "Clover"), "name"),
            enum("species", ("dog", "cat", "rabbit", "parrot", "ferret"), **F),
            txt("owner", PEOPLE, **F),
            intg("age_years", 0, 20, "years", "age", **F),
            num("weight_kg", 0.2, 70, "kg", "weight", **MF),
            flag("vaccinated", "vaccinations up to date", **MF)),
            ("pet_name", "species", "owner")),
        Entity("vet_visit", "vet visits", "vet visit", "VV", "complaint", (
            txt("complaint", ("limping", "annual checkup", "skin rash", "dental cleaning", "vomiting",
                              "ear infection", "vaccination", "weight loss")),
            ref("pet_id", "pet", "pet ID"),
            date("visit_date", 2026, 2026, "visit date", **M),
            num("fee", 25, 900, "EUR", **MF),
            enum("status", ("booked", "seen", "cancelled"), **MF)),
            ("complaint", "pet_id", "visit_date"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("farm", "agri", "farm management system", (
        Entity("field_plot", "field plots", "field", "FLD", "field_name", (
            txt("field_name", ("North Meadow", "Creek Bottom", "Windmill Acre", "Long Strip", "Orchard Block",
                               "Hilltop Ten"), "field name"),
            enum("crop", ("wheat", "barley", "maize", "rapeseed", "potatoes", "fallow"), **MF),
            num("area_hectares", 0.5, 120, "hectares", "area", **F),
            intg("soil_moisture_percent", 5, 60, "percent", "soil moisture", **F),
            flag("irrigated", **MF)),
            ("field_name", "crop", "area_hectares")),
        Entity("harvest_batch", "harvest batches", "harvest batch", "HB", "lot_code", (
            txt("lot_code", ("lot north-1", "lot creek-4", "lot mill-2", "lot strip-7", "lot orchard-3",
                             "lot hill-5"), "lot code"),
            ref("field_id", "field_plot", "field ID"),
            num("tonnes", 0.5, 900, "tonnes", **F),
            enum("grade", ("premium", "standard", "feed"), **MF),
            enum("storage", ("silo A", "silo B", "barn", "sold"), **MF)),
            ("lot_code", "field_id", "tonnes")),
    )),
    Domain("legal", "lawdesk", "law firm case system", (
        Entity("legal_matter", "legal matters", "legal matter", "MAT", "matter_title", (
            txt("matter_title", ("Lease dispute Harbor St", "Trademark filing Kestrel", "Estate of R. Moss",
                                 "Supplier breach claim", "Employment tribunal Weber", "Zoning appeal Lot 9",
                                 "Merger review Bluefin", "Patent license Quarry"), "matter title"),
            enum("practice_area", ("litigation", "corporate", "employment", "real estate", "ip"), "practice area",
                 **F),
            enum("status", ("intake", "active", "on hold", "closed"), **MF),
            num("billed_hours", 0, 900, "hours", "billed hours", **MF),
            txt("client", COMPANIES, **F),
            flag("conflict_checked", "conflict check done", **M)),
            ("matter_title", "practice_area", "client"), ("close", "closed", "status", "closed")),
        Entity("filing", "filings", "court filing", "FIL", "document_title", (
            txt("document_title", ("Motion to dismiss", "Statement of claim", "Witness list", "Expert report",
                                   "Settlement agreement", "Notice of appeal"), "document title", **F),
            ref("matter_id", "legal_matter", "matter ID"),
            intg("page_count", 1, 400, "pages", "page count", **F),
            date("deadline", 2026, 2026, **M),
            flag("signed", **MF)),
            ("document_title", "matter_id", "deadline")),
    )),
    Domain("accounting", "ledger", "accounting system", (
        Entity("invoice", "invoices", "invoice", "INV", "client", (
            txt("client", COMPANIES, **F),
            num("amount_due", 20, 90000, "EUR", "amount due", **F),
            enum("currency", ("EUR", "USD", "GBP"), **F),
            enum("status", ("draft", "sent", "paid", "void"), **MF),
            date("due_date", 2026, 2026, "due date", **M),
            intg("payment_terms_days", 7, 90, "days", "payment terms", **MF)),
            ("client", "amount_due", "currency", "due_date"), ("void", "voided", "status", "void")),
        Entity("expense_claim", "expense claims", "expense claim", "EXP", "vendor", (
            txt("vendor", ("Metro Taxi", "Hotel Lumen", "Airline Nordic", "Cafe Bloom", "Office Depot Plus",
                           "Conference Hub"), **F),
            txt("employee", PEOPLE, **F),
            enum("expense_type", ("travel", "meals", "lodging", "equipment", "training"), "expense type", **MF),
            num("amount", 3, 4000, "EUR", **F),
            enum("approval", ("pending", "approved", "rejected"), **MF),
            flag("receipt_attached", "receipt attached", **MF)),
            ("vendor", "employee", "expense_type", "amount")),
    )),
    Domain("social", "social", "social media scheduler", (
        Entity("post", "posts", "social post", "PST", "headline", (
            txt("headline", ("Meet our new barista", "Spring sale starts now", "Behind the scenes at the lab",
                             "Five tips for remote teams", "Our 10th anniversary", "New store opening",
                             "Customer story of the week", "Product roadmap recap"), **F),
            enum("platform", ("instagram", "linkedin", "mastodon", "facebook", "tiktok"), **F),
            enum("status", ("draft", "scheduled", "published", "archived"), **MF),
            intg("likes", 0, 50000, "likes", **F),
            date("publish_date", 2026, 2026, "publish date", **M),
            flag("boosted", **MF)),
            ("headline", "platform", "publish_date"), ("archive", "archived", "status", "archived")),
        Entity("ad_campaign", "ad campaigns", "ad campaign", "ADC", "campaign_name", (
            txt("campaign_name", ("Back to School", "Winter Warmers", "Launch Week", "Loyalty Boost",
                                  "Weekend Flash", "Brand Awareness Q3"), "campaign name"),
            num("daily_budget", 5, 2000, "EUR", "daily budget", **MF),
            enum("objective", ("reach", "traffic", "conversions", "app installs"), **F),
            enum("state", ("draft", "running", "paused", "ended"), **MF),
            intg("clicks", 0, 200000, "clicks", **F)),
            ("campaign_name", "daily_budget", "objective"), ("end", "ended", "state", "ended")),
    )),
    Domain("parking", "parking", "city parking service", (
        Entity("car_park", "car parks", "car park", "CPK", "car_park_name", (
            txt("car_park_name", ("Station Square", "Market Hall", "Riverside Deck", "Stadium East", "Old Town Garage",
                                  "Hospital Lot"), "car park name"),
            txt("district", ("center", "north", "harbor", "east", "university"), **F),
            intg("free_spaces", 0, 900, "spaces", "free spaces", **MF),
            num("hourly_rate", 0.5, 6, "EUR", "hourly rate", **MF),
            intg("ev_chargers", 0, 40, "chargers", "EV chargers", **F),
            flag("covered", **F)),
            ("car_park_name", "district", "hourly_rate")),
        Entity("parking_permit", "parking permits", "parking permit", "PMT", "vehicle_plate", (
            txt("vehicle_plate", ("AB-12-CD", "ZX-98-QW", "LM-45-OP", "RT-67-YU", "GH-23-JK", "NB-81-VC"),
                "vehicle plate", **F),
            ref("car_park_id", "car_park", "car park ID"),
            enum("permit_type", ("resident", "commuter", "visitor", "disabled"), "permit type", **F),
            intg("months", 1, 12, "months", "validity", **MF),
            enum("status", ("valid", "suspended", "revoked"), **MF)),
            ("vehicle_plate", "car_park_id", "permit_type", "months"), ("revoke", "revoked", "status", "revoked")),
    )),
    Domain("transit", "transit", "public transit operator", (
        Entity("bus_line", "bus lines", "bus line", "BUS", "line_name", (
            txt("line_name", ("Line 7 Harbor Loop", "Line 12 Airport Express", "Line 3 University",
                              "Line 21 Night Owl", "Line 9 Hospital", "Line 15 Stadium"), "line name"),
            intg("stop_count", 6, 60, "stops", "number of stops", **F),
            intg("headway_minutes", 3, 60, "minutes", "headway", **MF),
            enum("service_status", ("normal", "delayed", "diverted", "suspended"), "service status", **MF),
            flag("night_service", "night service", **F)),
            ("line_name", "stop_count", "headway_minutes")),
        Entity("transit_pass", "transit passes", "transit pass", "TP", "pass_holder", (
            txt("pass_holder", PEOPLE, "pass holder", **F),
            enum("fare_class", ("adult", "student", "senior", "child"), "fare class", **MF),
            num("stored_value", 0, 150, "EUR", "stored value", **MF),
            flag("blocked", **MF)),
            ("pass_holder", "fare_class")),
    )),
    Domain("telecom", "telco", "mobile network operator", (
        Entity("tariff_plan", "tariff plans", "tariff plan", "PLN", "plan_name", (
            txt("plan_name", ("Lite 5", "Everyday 20", "Unlimited Plus", "Student 15", "Family Share 60",
                              "Business Pro"), "plan name"),
            intg("data_gb", 1, 200, "GB", "data allowance", **F),
            num("monthly_fee", 4.99, 79.99, "EUR", "monthly fee", **MF),
            enum("network_generation", ("4g", "5g"), "network generation", **F),
            flag("eu_roaming", "EU roaming", **F)),
            ("plan_name", "data_gb", "monthly_fee")),
        Entity("phone_line", "phone lines", "phone line", "LIN", "msisdn", (
            txt("msisdn", ("+351910000114", "+351910000238", "+351910000371", "+351910000452", "+351910000589",
                           "+351910000613", "+351910000740", "+351910000866"), "phone number"),
            ref("plan_id", "tariff_plan", "plan ID", **M),
            num("data_used_gb", 0, 150, "GB", "data used", **F),
            enum("line_status", ("active", "suspended", "ported out"), "line status", **MF),
            flag("autopay", **MF)),
            ("msisdn", "plan_id"), ("suspend", "suspended", "line_status", "suspended")),
    )),
    Domain("museum", "gallery", "museum collection system", (
        Entity("artwork", "artworks", "artwork", "ART", "artwork_title", (
            txt("artwork_title", ("Harbor at Dusk", "Study of Hands", "Blue Orchard", "The Weaver", "Salt Flats II",
                                  "Portrait of a Ferryman", "Winter Kitchen", "Broken Compass"), "title"),
            txt("artist", ("Elena Sorokina", "Tomas Brandt", "Ana Ribeiro", "Hugo Lemaire", "Keiko Mori"), **F),
            intg("year_created", 1650, 2024, "", "year", **F),
            enum("medium", ("oil", "watercolor", "bronze", "photograph", "textile"), **F),
            txt("gallery_room", ("Room 1", "Room 4", "Room 7", "Storage"), "gallery room", **MF),
            intg("insured_value", 1000, 9000000, "EUR", "insured value", **MF)),
            ("artwork_title", "artist", "year_created", "medium")),
        Entity("artwork_loan", "artwork loans", "artwork loan", "AL", "borrower", (
            txt("borrower", ("City Art Museum", "Harbor Gallery", "National Portrait Trust", "Modern Arts Hall"),
                **F),
            ref("artwork_id", "artwork", "artwork ID"),
            intg("loan_weeks", 2, 52, "weeks", "loan length", **MF),
            enum("status", ("proposed", "agreed", "in transit", "returned"), **MF)),
            ("borrower", "artwork_id", "loan_weeks")),
    )),
    Domain("recruiting", "hire", "applicant tracking system", (
        Entity("candidate", "candidates", "candidate", "CND", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("pipeline_stage", ("applied", "screen", "interview", "offer", "hired", "rejected"),
                 "pipeline stage", **MF),
            intg("years_experience", 0, 30, "years", "years of experience", **F),
            tags("skills", ("python", "sql", "negotiation", "figma", "kubernetes", "accounting", "spanish")),
            txt("source_board", ("LinkedIn", "Referral", "Careers Page", "Job Fair"), "source", **F)),
            ("full_name", "years_experience"), ("reject", "rejected", "pipeline_stage", "rejected")),
        Entity("interview", "interviews", "interview", "INT", "interviewer", (
            txt("interviewer", PEOPLE[:8], **F),
            ref("candidate_id", "candidate", "candidate ID"),
            enum("format", ("phone", "video", "onsite"), "interview format", **MF),
            date("interview_date", 2026, 2026, "interview date", **M),
            intg("score", 1, 5, "", "interview score", **MF)),
            ("interviewer", "candidate_id", "format", "interview_date")),
    )),
    Domain("maintenance", "facility", "facility maintenance desk", (
        Entity("work_order", "work orders", "work order", "WO", "issue", (
            txt("issue", ("leaking faucet", "broken elevator button", "flickering lights", "jammed loading door",
                          "HVAC filter change", "cracked window", "fire alarm test", "clogged drain")),
            txt("building", ("Tower A", "Tower B", "Annex", "Warehouse 2"), **F),
            enum("urgency", ("routine", "soon", "emergency"), **MF),
            enum("status", ("new", "assigned", "in progress", "completed", "cancelled"), **MF),
            num("labor_hours", 0, 40, "hours", "labor hours", **MF),
            txt("technician", PEOPLE[4:12], **MF)),
            ("issue", "building", "urgency"), ("cancel", "cancelled", "status", "cancelled")),
        Entity("equipment", "equipment units", "equipment unit", "EQ", "asset_name", (
            txt("asset_name", ("Chiller 1", "Boiler North", "Elevator B2", "Generator 3", "Air Handler 5",
                               "Sprinkler Pump"), "asset name"),
            enum("condition", ("good", "fair", "poor", "failed"), **MF),
            intg("service_interval_days", 30, 365, "days", "service interval", **MF),
            intg("runtime_hours", 0, 60000, "hours", "runtime", **F)),
            ("asset_name", "condition", "service_interval_days")),
    )),
    Domain("crew", "crew", "airline crew scheduling system", (
        Entity("crew_member", "crew members", "crew member", "CRW", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("rank", ("captain", "first officer", "purser", "flight attendant"), **F),
            txt("base_airport", ("LIS", "OPO", "FAO", "MAD", "BCN"), "home base", **MF),
            intg("duty_hours_month", 0, 100, "hours", "duty hours this month", **MF),
            tags("languages", ("english", "portuguese", "spanish", "french", "german", "mandarin")),
            flag("on_reserve", "on reserve", **MF)),
            ("full_name", "rank", "base_airport")),
        Entity("duty_roster", "duty rosters", "duty roster", "DTY", "pairing_code", (
            txt("pairing_code", ("P-LIS-JFK-1", "P-OPO-LHR-2", "P-LIS-GRU-1", "P-FAO-AMS-3", "P-MAD-CDG-2",
                                 "P-LIS-ZRH-4", "P-BCN-FCO-1", "P-OPO-PAR-3"), "pairing code"),
            ref("crew_member_id", "crew_member", "crew member ID", **M),
            intg("block_hours", 1, 16, "hours", "block hours", **F),
            date("duty_date", 2026, 2026, "duty date", **M),
            enum("state", ("planned", "published", "flown", "cancelled"), **MF)),
            ("pairing_code", "crew_member_id", "duty_date"), ("cancel", "cancelled", "state", "cancelled")),
    )),
    Domain("coworking", "cowork", "coworking space", (
        Entity("desk", "desks", "desk", "DSK", "desk_code", (
            txt("desk_code", ("Window 1", "Window 2", "Quiet 4", "Quiet 7", "Loft 3", "Loft 9", "Studio 2", "Patio 5"),
                "desk code"),
            enum("zone", ("open plan", "quiet", "phone booth", "studio"), **F),
            num("day_rate", 8, 60, "EUR", "day rate", **MF),
            flag("standing", "standing desk", **F),
            flag("reserved", **MF)),
            ("desk_code", "zone", "day_rate")),
        Entity("meeting_room", "meeting rooms", "meeting room", "MRM", "room_name", (
            txt("room_name", ("Atlas", "Borealis", "Cove", "Dune", "Echo", "Fable"), "room name"),
            intg("seats", 2, 30, "seats", **F),
            num("hourly_price", 5, 120, "EUR", "hourly price", **MF),
            enum("av_setup", ("none", "screen", "video conference"), "AV setup", **MF),
            flag("bookable", **MF)),
            ("room_name", "seats", "hourly_price")),
    )),
    Domain("bikeshare", "bikes", "bike sharing network", (
        Entity("station", "stations", "docking station", "STN", "station_name", (
            txt("station_name", ("Central Plaza", "River Quay", "Museum Steps", "University Gate", "Market Cross",
                                 "Harbor Front", "Park Lane", "Old Mill"), "station name"),
            intg("docks", 8, 60, "docks", "dock count", **F),
            intg("bikes_available", 0, 60, "bikes", "bikes available", **MF),
            txt("district", ("center", "north", "harbor", "east", "university"), **F),
            flag("ebike_charging", "e-bike charging", **F)),
            ("station_name", "docks", "district")),
        Entity("bike", "bikes", "bike", "BK", "frame_number", (
            txt("frame_number", ("FR-77120", "FR-77341", "FR-77502", "FR-77688", "FR-77815", "FR-77903", "FR-78011",
                                 "FR-78246"), "frame number"),
            enum("model", ("classic", "e-bike", "cargo"), **F),
            ref("station_id", "station", "station ID", **M),
            intg("battery_percent", 0, 100, "percent", "battery level", **MF),
            enum("condition", ("ready", "needs repair", "in workshop"), **MF)),
            ("frame_number", "model", "station_id")),
    )),
    Domain("marina", "marina", "marina office", (
        Entity("berth", "berths", "berth", "BRT", "berth_code", (
            txt("berth_code", ("A-01", "A-07", "B-03", "B-12", "C-05", "C-09", "D-02", "D-14"), "berth code"),
            num("max_length_m", 6, 40, "m", "maximum boat length", **F),
            num("nightly_fee", 15, 320, "EUR", "nightly fee", **MF),
            flag("shore_power", "shore power", **F),
            enum("occupancy", ("free", "occupied", "reserved"), **MF)),
            ("berth_code", "max_length_m", "nightly_fee")),
        Entity("vessel", "vessels", "vessel", "VSL", "vessel_name", (
            txt("vessel_name", ("Sea Lark", "Blue Heron", "Morning Tide", "Kestrel II", "Salty Dog", "Aurora",
                                "Windrose", "Calypso"), "vessel name"),
            enum("vessel_type", ("sailboat", "motor yacht", "catamaran", "fishing boat"), "vessel type", **F),
            num("length_m", 5, 38, "m", "length", **F),
            ref("berth_id", "berth", "berth ID", **M),
            txt("skipper", PEOPLE, **F)),
            ("vessel_name", "vessel_type", "length_m", "skipper")),
    )),
    Domain("printing", "print", "print shop", (
        Entity("print_job", "print jobs", "print job", "PJ", "job_title", (
            txt("job_title", ("Wedding invitations", "Quarterly report", "Event posters", "Business cards",
                              "Menu reprint", "Flyer campaign", "Thesis binding", "Product labels"), "job title"),
            txt("client", COMPANIES, **F),
            intg("copies", 1, 5000, "copies", **MF),
            enum("paper", ("matte 120g", "gloss 170g", "recycled 90g", "card 300g"), "paper stock", **MF),
            enum("status", ("queued", "printing", "finishing", "ready", "cancelled"), **MF),
            flag("double_sided", "double-sided", **MF)),
            ("job_title", "client", "copies", "paper"), ("cancel", "cancelled", "status", "cancelled")),
        Entity("press", "presses", "printing press", "PRS", "press_name", (
            txt("press_name", ("Heidel 1", "Heidel 2", "Xerox Iridesse", "Canon Vario", "Ricoh Pro", "Konica C12"),
                "press name"),
            enum("press_type", ("offset", "digital", "large format"), "press type", **F),
            intg("sheets_per_hour", 500, 18000, "sheets", "speed", **F),
            enum("state", ("idle", "running", "maintenance"), **MF)),
            ("press_name", "press_type")),
    )),
    Domain("pharmacy", "pharma", "pharmacy system", (
        Entity("medicine", "medicines", "medicine", "MED", "product_name", (
            txt("product_name", ("Paracetamol 500mg", "Ibuprofen 400mg", "Loratadine 10mg", "Omeprazole 20mg",
                                 "Vitamin D3 1000IU", "Saline Nasal Spray", "Amoxicillin 250mg", "Zinc Lozenges"),
                "product name"),
            enum("form", ("tablet", "capsule", "syrup", "spray"), **F),
            intg("units_in_stock", 0, 900, "packs", "stock", **MF),
            num("retail_price", 1.5, 45, "EUR", "retail price", **MF),
            flag("prescription_only", "prescription only", **F)),
            ("product_name", "form", "retail_price")),
        Entity("refill_request", "refill requests", "refill request", "RFL", "patient_name", (
            txt("patient_name", PEOPLE, "patient name", **F),
            ref("medicine_id", "medicine", "medicine ID"),
            intg("packs", 1, 6, "packs", **MF),
            enum("status", ("received", "ready for pickup", "collected", "declined"), **MF),
            flag("home_delivery", "home delivery", **MF)),
            ("patient_name", "medicine_id", "packs"), ("decline", "declined", "status", "declined")),
    )),
    Domain("fooddelivery", "eats", "food delivery platform", (
        Entity("courier", "couriers", "courier", "COU", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("vehicle", ("bicycle", "scooter", "car"), **F),
            num("rating", 1, 5, "", "courier rating", **F),
            intg("deliveries_today", 0, 40, "deliveries", "deliveries today", **F),
            enum("availability", ("online", "busy", "offline"), **MF)),
            ("full_name", "vehicle")),
        Entity("meal_order", "meal orders", "meal order", "MO", "restaurant", (
            txt("restaurant", ("Pho Corner", "Bella Napoli", "Green Bowl", "Burger Foundry", "Sushi Kaze",
                               "Taco Loco", "Curry House"), **F),
            ref("courier_id", "courier", "courier ID", **M),
            num("basket_total", 6, 180, "EUR", "basket total", **F),
            intg("eta_minutes", 5, 90, "minutes", "ETA", **MF),
            enum("status", ("placed", "preparing", "on the way", "delivered", "cancelled"), **MF),
            flag("contactless", "contactless drop-off", **MF)),
            ("restaurant", "basket_total"), ("cancel", "cancelled", "status", "cancelled")),
    )),
    Domain("laboratory", "lims", "laboratory information system", (
        Entity("lab_sample", "lab samples", "lab sample", "SMP", "sample_label", (
            txt("sample_label", ("river water 3", "soil core 12", "blood panel 7", "grain batch 4", "air filter 9",
                                 "milk lot 2", "leaf tissue 5", "sediment 11"), "sample label"),
            enum("matrix", ("water", "soil", "blood", "food", "air"), **F),
            enum("test_status", ("received", "in analysis", "reported", "rejected"), "test status", **MF),
            num("storage_temp_c", -80, 25, "degrees C", "storage temperature", **MF),
            flag("priority", "priority sample", **MF)),
            ("sample_label", "matrix"), ("reject", "rejected", "test_status", "rejected")),
        Entity("instrument", "instruments", "lab instrument", "INS", "instrument_name", (
            txt("instrument_name", ("GC-MS 1", "HPLC 2", "ICP-OES", "PCR Cycler 3", "Spectrometer B", "Centrifuge 5"),
                "instrument name"),
            intg("runs_this_week", 0, 200, "runs", "runs this week", **F),
            date("calibration_due", 2026, 2027, "calibration due date", **M),
            enum("state", ("available", "in use", "out of service"), **MF)),
            ("instrument_name", "calibration_due")),
    )),
    Domain("permits", "permits", "city building permits office", (
        Entity("building_permit", "building permits", "building permit", "BP", "site_address", (
            txt("site_address", STREETS, "site address"),
            enum("work_type", ("extension", "new build", "demolition", "renovation", "signage"), "work type", **F),
            num("project_cost", 2, 5000, "thousand EUR", "project cost", **F),
            enum("status", ("submitted", "under review", "approved", "refused", "withdrawn"), **MF),
            txt("applicant", PEOPLE, **F)),
            ("site_address", "work_type", "applicant"), ("withdraw", "withdrawn", "status", "withdrawn")),
        Entity("site_inspection", "site inspections", "site inspection", "SI", "inspector", (
            txt("inspector", PEOPLE[6:14], **F),
            ref("permit_id", "building_permit", "permit ID"),
            date("inspection_date", 2026, 2026, "inspection date", **M),
            enum("result", ("pending", "passed", "failed", "follow-up"), **MF),
            intg("issues_found", 0, 15, "issues", "issues found", **MF)),
            ("inspector", "permit_id", "inspection_date")),
    )),
    Domain("charity", "giving", "charity donor system", (
        Entity("donor", "donors", "donor", "DNR", "full_name", (
            txt("full_name", PEOPLE, "name"),
            enum("segment", ("individual", "major donor", "corporate", "foundation"), **F),
            num("lifetime_giving", 0, 250000, "EUR", "lifetime giving", **F),
            flag("gift_aid", "gift aid", **MF),
            enum("contact_preference", ("email", "post", "phone", "none"), "contact preference", **MF)),
            ("full_name", "segment")),
        Entity("donation", "donations", "donation", "DON", "appeal", (
            txt("appeal", ("Winter Shelter", "Clean Water", "School Meals", "Flood Relief", "Tree Planting",
                           "Library Books"), **F),
            ref("donor_id", "donor", "donor ID"),
            num("gift_amount", 5, 20000, "EUR", "gift amount", **F),
            enum("method", ("card", "bank transfer", "cheque", "cash"), "payment method", **F),
            flag("receipted", "receipt sent", **MF)),
            ("appeal", "donor_id", "gift_amount", "method")),
    )),
    Domain("esports", "league", "esports league manager", (
        Entity("team", "teams", "team", "TM", "team_name", (
            txt("team_name", ("Night Owls", "Iron Foxes", "Quantum Five", "Red Comets", "Silent Storm",
                              "Polar Bytes", "Echo Squad", "Lava Lynx"), "team name"),
            txt("region", ("EU West", "EU North", "NA East", "Asia Pacific"), **F),
            intg("league_points", 0, 60, "points", "league points", **MF),
            intg("roster_size", 5, 10, "players", "roster size", **F),
            flag("qualified", "qualified for playoffs", **MF)),
            ("team_name", "region")),
        Entity("match", "matches", "match", "MCH", "match_label", (
            txt("match_label", ("Week 1 opener", "Week 2 derby", "Week 3 rematch", "Week 4 showdown",
                                "Week 5 decider", "Week 6 finale", "Quarterfinal A", "Quarterfinal B"),
                "match label"),
            ref("home_team_id", "team", "home team ID"),
            ref("away_team_id", "team", "away team ID"),
            enum("status", ("scheduled", "live", "finished", "postponed"), **MF),
            intg("viewers", 0, 500000, "viewers", "peak viewers", **F)),
            ("match_label", "home_team_id", "away_team_id"), ("postpone", "postponed", "status", "postponed")),
    )),
    Domain("campground", "camp", "campground reservations", (
        Entity("campsite", "campsites", "campsite", "CS", "site_name", (
            txt("site_name", ("Pine 1", "Pine 4", "Lakeside 2", "Lakeside 6", "Meadow 3", "Meadow 8", "Ridge 5",
                              "Ridge 9"), "site name"),
            enum("site_type", ("tent", "rv", "cabin", "glamping"), "site type", **F),
            num("nightly_price", 12, 180, "EUR", "nightly price", **MF),
            intg("max_guests", 2, 10, "guests", "maximum guests", **F),
            flag("pets_allowed", "pets allowed", **MF)),
            ("site_name", "site_type", "nightly_price")),
        Entity("camp_booking", "camp bookings", "camp booking", "CB", "camper", (
            txt("camper", PEOPLE, **F),
            ref("campsite_id", "campsite", "campsite ID"),
            intg("nights", 1, 14, "nights", **MF),
            intg("guests", 1, 10, "guests", **MF),
            enum("status", ("reserved", "checked in", "completed", "cancelled"), **MF)),
            ("camper", "campsite_id", "nights", "guests"), ("cancel", "cancelled", "status", "cancelled")),
    )),
)
