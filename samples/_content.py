"""Texts for the generated sample documents (see build_samples.py).

Fictional company: Northwind Thermostats Ltd. (Bristol, UK), maker of the
Northwind T-series smart thermostats: T100, T200 and T300 Pro.

Each document holds its own facts, with little overlap, so that a question
in QUESTIONS.md points at exactly one file and page.  The hand-written text
documents (faq.md, known-issues.txt, troubleshooting-guide.html and
support-announcement-2024-08.eml) live directly in acme-support/.
"""

COMPANY = "Northwind Thermostats Ltd."

# --- 1. Product manual (text PDF, 4 pages) ---------------------------------
# Each inner list is one page: ("h1"|"h2"|"p"|"bullets"|"steps"|"table", ...).
MANUAL_TITLE = "Northwind T-series Smart Thermostat: User and Installation Manual"
MANUAL_PAGES = [
    [
        ("title", MANUAL_TITLE),
        ("p", "Document NW-MAN-T, edition 2024.2. Covers the T100, T200 and T300 Pro models."),
        ("h1", "1. Introduction"),
        (
            "p",
            "Thank you for choosing a Northwind T-series thermostat. The T-series controls "
            "low-voltage heating and cooling systems and can be operated from the wall unit, "
            "the Northwind Home app or a voice assistant. Read this manual completely before "
            "installing the thermostat and keep it for future reference.",
        ),
        ("h2", "1.1 What is in the box"),
        (
            "bullets",
            [
                "Thermostat unit and wall plate",
                "Trim plate (covers old paint marks, 150 x 150 mm)",
                "4 screws and 4 wall anchors",
                "Wire labels and this manual",
                "T300 Pro only: one RS-1 remote room sensor",
            ],
        ),
        ("h2", "1.2 Safety"),
        (
            "bullets",
            [
                "Switch off power to the heating and cooling system at the breaker before installation.",
                "Use the thermostat only with 24 VAC low-voltage systems.",
                "Installation of the T300 Pro must be carried out by a Northwind certified installer.",
                "Do not install the thermostat in a bathroom or within 1 m of a shower, bath or sink.",
            ],
        ),
    ],
    [
        ("h1", "2. Specifications"),
        ("p", "The table below compares the three models of the T-series."),
        (
            "table",
            [
                ["Model", "Supply voltage", "Wi-Fi", "Display", "Warranty"],
                ["T100", "24 VAC, C-wire optional", "2.4 GHz, 802.11 b/g/n", "2.4 in monochrome", "2 years"],
                [
                    "T200",
                    "24 VAC, C-wire required",
                    "2.4/5 GHz, 802.11 a/b/g/n/ac",
                    "3.5 in colour",
                    "3 years",
                ],
                [
                    "T300 Pro",
                    "24 VAC, C-wire required",
                    "Wi-Fi 6 dual band + Thread",
                    "4.0 in colour touch",
                    "5 years",
                ],
            ],
        ),
        ("h2", "2.1 Common specifications"),
        (
            "bullets",
            [
                "Temperature measurement accuracy: \u00b10.5 \u00b0C",
                "Humidity measurement accuracy (T200 and T300 Pro): \u00b13 % RH",
                "Setpoint range: 5 \u00b0C to 35 \u00b0C in 0.5 \u00b0C steps",
                "Standby power consumption: 0.8 W",
                "Dimensions: 96 x 96 x 24 mm; weight 180 g (T300 Pro: 210 g)",
                "Operating environment: 0 \u00b0C to 40 \u00b0C, 10 % to 90 % RH, non-condensing",
            ],
        ),
        (
            "p",
            "The T100 can run without a C-wire by drawing power from the heating circuit "
            "(power stealing). Some older furnaces react to power stealing with a clicking "
            "relay; in that case fit a C-wire or the PA-24 power adapter.",
        ),
    ],
    [
        ("h1", "3. Installation"),
        (
            "steps",
            [
                "Switch off power to the system at the breaker.",
                "Take a photo of the existing thermostat wiring before disconnecting it.",
                "Remove the old thermostat and label each wire with the supplied labels.",
                "Mount the wall plate with the built-in bubble level facing up, using the "
                "screws and anchors provided.",
                "Connect the wires to the matching terminals (see 3.1) and push each wire in "
                "until the terminal button clicks.",
                "Clip the thermostat onto the wall plate and switch the power back on.",
            ],
        ),
        ("h2", "3.1 Terminals"),
        (
            "p",
            "The T200 and T300 Pro wall plates have ten terminals: Rh, Rc, C, W1, W2, Y1, Y2, "
            "G, O/B and ACC. The T100 wall plate has seven terminals and no W2, Y2 or ACC "
            "terminal. If only one R wire is present, connect it to Rh; the built-in jumper "
            "links Rh and Rc automatically.",
        ),
        ("h1", "4. Setting up the app"),
        (
            "steps",
            [
                "Install the Northwind Home app and sign in or create an account.",
                "Tap Add device and choose your thermostat model.",
                "Enter the 6-digit pairing code shown on the thermostat display.",
                "Choose your home Wi-Fi network and enter its password.",
                "Follow the in-app questions about your heating and cooling equipment.",
            ],
        ),
        (
            "p",
            "The pairing code changes every 10 minutes. If it expires, the display shows a new "
            "code automatically.",
        ),
    ],
    [
        ("h1", "5. Restart and factory reset"),
        (
            "p",
            "To restart the thermostat without losing settings, press and hold the dial for "
            "3 seconds and choose Restart.",
        ),
        (
            "p",
            "To perform a factory reset, press and hold the dial for 10 seconds until the "
            "display shows RESET, then release it. A factory reset erases all schedules, "
            "Wi-Fi settings and the link to your Northwind account. The thermostat then "
            "starts in pairing mode.",
        ),
        ("h1", "6. Maintenance"),
        (
            "bullets",
            [
                "Clean the thermostat with a dry microfibre cloth. Do not use solvents or spray cleaners.",
                "The RS-1 remote sensor uses one CR2032 coin cell. A new cell lasts about 2 years.",
                "Firmware is updated automatically over Wi-Fi; no action is needed.",
            ],
        ),
        ("h1", "7. Disposal"),
        (
            "p",
            "Do not dispose of the thermostat with household waste. Take it to a collection "
            "point for electrical and electronic equipment (WEEE).",
        ),
        ("h1", "8. Contact"),
        (
            "p",
            "Northwind Thermostats Ltd., Unit 4, Quayside Business Park, Bristol, United "
            "Kingdom. Support: northwind-thermostats.example/support",
        ),
    ],
]

# --- 2. Scanned warranty letter (image-only PDF, 1 page) --------------------
# ONLY-HERE facts: CarePlus costs GBP 39, adds 24 months, buy within 60 days;
# warranty claims within 30 days of finding the fault.
WARRANTY_LETTER = [
    ("title", "NORTHWIND THERMOSTATS LTD."),
    ("small", "Unit 4, Quayside Business Park, Bristol, United Kingdom"),
    ("gap", ""),
    ("p", "14 March 2024"),
    ("p", "Our reference: WP-2024-03"),
    ("gap", ""),
    ("h", "Warranty claim procedure and CarePlus extended warranty"),
    ("p", "Dear Partner,"),
    (
        "p",
        "This letter sets out the warranty claim procedure that applies to all T-series "
        "thermostats from 1 April 2024.",
    ),
    (
        "p",
        "1. Claims must be submitted within 30 days of the fault being found, together "
        "with proof of purchase.",
    ),
    ("p", "2. Each claim needs the serial number of the unit and a photo of the wiring."),
    (
        "p",
        "3. For approved claims we ship a replacement within 5 business days. The faulty "
        "unit must be returned within 21 days using the prepaid label.",
    ),
    (
        "p",
        "4. The warranty does not cover water damage, damage caused by wiring errors, or a "
        "T300 Pro installed by a non-certified installer.",
    ),
    ("h", "CarePlus extended warranty"),
    (
        "p",
        "Customers can buy CarePlus for GBP 39. CarePlus adds 24 months to the standard "
        "warranty and must be purchased within 60 days of device activation.",
    ),
    ("gap", ""),
    ("p", "Yours sincerely,"),
    ("signature", ""),
    ("p", "Margaret Okafor"),
    ("p", "Head of Customer Care"),
]

# --- 3. Mixed PDF: installer bulletin (page 1 text, page 2 scanned) ---------
BULLETIN_TITLE = "Installer Bulletin IB-2024-07: Heat pump wiring on the T-series"
BULLETIN_PAGE1 = [
    ("title", BULLETIN_TITLE),
    (
        "p",
        "Northwind Thermostats Ltd., Installer Programme. Issued July 2024. For Northwind "
        "certified installers.",
    ),
    ("h1", "Reversing valve (O/B)"),
    (
        "p",
        "The T-series energises the O/B terminal in cooling (O) by default. Some heat pumps "
        "need the valve energised in heating (B). To change it, open the Installer Menu by "
        "holding the Menu button for 5 seconds and entering the installer code 0412, then "
        "go to Equipment > Reversing valve.",
    ),
    ("h1", "Auxiliary heat lockout"),
    (
        "p",
        "With an OS-2 outdoor sensor fitted, the T300 Pro locks out auxiliary heat when the "
        "outdoor temperature is above 2 \u00b0C. The lockout temperature can be set from "
        "-10 \u00b0C to 10 \u00b0C.",
    ),
    ("h1", "Dual fuel balance point"),
    (
        "p",
        "For dual fuel systems the default balance point is -5 \u00b0C: below this outdoor "
        "temperature the furnace heats instead of the heat pump.",
    ),
    ("h1", "Attached documents"),
    ("p", "Page 2 of this bulletin is a copy of a field service note for some T300 Pro units."),
]
# ONLY-HERE facts: affected serial range NW3-2318 to NW3-2322, part WB-300R,
# labour code LAB-17.
BULLETIN_PAGE2 = [
    ("title", "FIELD SERVICE NOTE FSN-2024-07"),
    ("small", "Northwind Thermostats Ltd. - Product Support Engineering - 2 July 2024"),
    ("gap", ""),
    ("h", "Product"),
    ("p", "T300 Pro with serial numbers from NW3-2318 to NW3-2322 (first 8 characters)."),
    ("h", "Symptom"),
    (
        "p",
        "The thermostat shows E-212 when the auxiliary heat stage starts, and the "
        "auxiliary heat does not run.",
    ),
    ("h", "Cause"),
    ("p", "A loose W2 terminal spring in the wiring base."),
    ("h", "Action"),
    (
        "p",
        "Replace the wiring base with part number WB-300R, free of charge. Do not replace "
        "the whole thermostat. The thermostat keeps its settings.",
    ),
    ("h", "Labour claim"),
    ("p", "Claim 0.5 hours of labour with labour code LAB-17 in the Pro Portal."),
    ("gap", ""),
    ("p", "Approved: Priya Natarajan, Product Support Engineering"),
]

# --- 4. DOCX policy ---------------------------------------------------------
POLICY_TITLE = "Refund, Returns and Support Service Level Policy"
POLICY = [
    ("title", POLICY_TITLE),
    ("p", "Northwind Thermostats Ltd. Policy POL-CS-04, version 3, effective 1 May 2024."),
    ("h1", "1. Refunds and returns"),
    ("h2", "1.1 Return window"),
    (
        "p",
        "Products bought directly from the Northwind online store can be returned within "
        "45 days of delivery for a full refund. Products bought from a retailer follow the "
        "retailer's own return policy.",
    ),
    ("h2", "1.2 Restocking fee"),
    (
        "p",
        "Opened products returned without a fault carry a 15% restocking fee. No fee "
        "applies to unopened products or to faulty products.",
    ),
    ("h2", "1.3 Refund timing and shipping"),
    (
        "p",
        "Refunds are issued to the original payment method within 7 business days after "
        "the returned item arrives at our warehouse. Return shipping is free for faulty "
        "products; for other returns a flat fee of GBP 6.50 is deducted from the refund.",
    ),
    ("h1", "2. Support service levels"),
    ("h2", "2.1 Support tiers"),
    (
        "table",
        [
            ["Tier", "Who", "Channels", "First response", "Resolution target"],
            ["Basic", "All customers", "Chat, e-mail", "48 hours", "10 business days"],
            ["Plus", "Northwind Home+ subscribers", "Chat, e-mail, phone", "8 hours", "5 business days"],
            [
                "Pro Installer",
                "Certified installers",
                "Dedicated phone line, chat",
                "1 hour",
                "2 business days",
            ],
        ],
    ),
    ("h2", "2.2 Missed targets"),
    (
        "p",
        "When a first response target is missed, the ticket is escalated automatically to "
        "the duty manager. Plus customers receive a one-month subscription credit when the "
        "resolution target is missed.",
    ),
]

# --- 5. PPTX release notes --------------------------------------------------
SLIDES = [
    ("Firmware 4.2 Release Notes", "Northwind T-series thermostats, June 2024"),
    (
        "What is new in 4.2.0 (released 20 May 2024)",
        [
            "Quiet hours: display backlight off from 22:00 to 07:00 by default",
            "Adaptive Recovery is now available on the T100",
            "Fewer E-104 false alarms: a sensor fault is raised only after 3 consecutive bad readings",
            "Installer Menu shows total compressor runtime hours",
        ],
    ),
    (
        "4.2.1 hotfix (released 3 June 2024)",
        [
            "Fixes Wi-Fi not reconnecting after a router reboot",
            "Fixes the T200 display freezing when the humidity graph is opened",
            "Recommended for all T-series thermostats",
        ],
    ),
    (
        "Rollout and requirements",
        [
            "Staged rollout: 10% of devices on day 1, 50% on day 7, 100% by day 14",
            "Requires Northwind Home app 3.8 or later",
            "Installers can force an update in the Pro Portal: Devices > Firmware > Update now",
        ],
    ),
]

# --- 6. XLSX: compatibility matrix and error codes --------------------------
COMPAT_HEADER = ["System type", "T100", "T200", "T300 Pro", "Notes"]
COMPAT_ROWS = [
    ["Gas or oil furnace, 1 stage", "Yes", "Yes", "Yes", ""],
    ["Gas furnace, 2 stage", "No", "Yes", "Yes", "Uses W2 terminal"],
    ["Heat pump without auxiliary heat", "Yes", "Yes", "Yes", ""],
    ["Heat pump with auxiliary or emergency heat", "No", "Yes", "Yes", "Uses W2 terminal"],
    ["Dual fuel (heat pump + furnace)", "No", "No", "Yes", "Requires OS-2 outdoor sensor"],
    ["Hot water boiler, 2-wire", "Yes", "Yes", "Yes", ""],
    [
        "Electric baseboard, line voltage 120/240 V",
        "No",
        "No",
        "No",
        "Not supported; use a line-voltage thermostat",
    ],
    ["Humidifier or dehumidifier control", "No", "No", "Yes", "Uses ACC terminal"],
]
ERROR_HEADER = ["Code", "Meaning", "Likely cause", "Action"]
ERROR_ROWS = [
    [
        "E-101",
        "No 24 VAC power on R",
        "Tripped breaker or blown fuse",
        "Check the breaker and the 3 A fuse on the control board",
    ],
    [
        "E-102",
        "C-wire missing or unstable",
        "Loose C-wire, or the furnace cannot supply power stealing",
        "Reseat the C-wire or fit the PA-24 power adapter",
    ],
    [
        "E-104",
        "Internal temperature sensor fault",
        "Sensor reading outside -10 to 60 \u00b0C or sensor disconnected",
        "Restart the thermostat; if the code returns, replace under warranty",
    ],
    [
        "E-107",
        "Wi-Fi authentication failed",
        "Wrong Wi-Fi password or router changed",
        "Re-enter the Wi-Fi password in the app",
    ],
    [
        "E-110",
        "Cloud connection timeout",
        "Router blocks outgoing port 8883",
        "Allow outgoing TCP port 8883 on the router",
    ],
    [
        "E-201",
        "Cooling not detected",
        "Temperature did not fall within 20 minutes of a call for cooling",
        "Check the outdoor unit and the Y1 wire",
    ],
    [
        "E-212",
        "Auxiliary heat stage did not respond",
        "W2 wiring fault or aux heat breaker off",
        "Check the W2 wire and the auxiliary heat breaker",
    ],
    [
        "E-305",
        "RS-1 remote sensor lost",
        "Sensor more than 30 m away or battery empty",
        "Move the sensor closer or replace the CR2032 cell",
    ],
]

# --- 10. PNG quick card -----------------------------------------------------
CARD_TITLE = "QUICK CARD QC-03"
CARD_SUBTITLE = "Reconnect a T-series thermostat to Wi-Fi"
CARD_STEPS = [
    "Press and hold MENU and DOWN together for 5 seconds.",
    "The display shows NW-SETUP and the LED blinks blue.",
    "On your phone, join the Wi-Fi network NW-SETUP-xxxx",
    "(xxxx = last 4 digits of the serial number).",
    "Open a browser at 192.168.4.1 and choose your home network.",
    "The thermostat restarts. Setup mode closes after 15 minutes.",
]
CARD_FOOTER = "Still stuck? Call support and quote card QC-03."

# --- Golden questions: (question, answer snippet, file, page) ---------------
# Page is 1-based; for PPTX it is the slide number, for XLSX the sheet number
# (as unstructured reports them); other non-paginated formats use page 1.
QUESTIONS = [
    (
        "What does error E-104 mean?",
        "Internal temperature sensor fault",
        "compatibility-and-error-codes.xlsx",
        2,
    ),
    ("How long is the warranty on the T300 Pro?", "5 years", "t-series-user-manual.pdf", 2),
    (
        "How do I factory reset a T-series thermostat?",
        "press and hold the dial for 10 seconds",
        "t-series-user-manual.pdf",
        4,
    ),
    ("Which terminals does the T100 wall plate lack?", "no W2, Y2 or ACC", "t-series-user-manual.pdf", 3),
    ("How much does the CarePlus extended warranty cost?", "GBP 39", "warranty-policy-letter-scanned.pdf", 1),
    (
        "How long do customers have to submit a warranty claim?",
        "within 30 days of the fault being found",
        "warranty-policy-letter-scanned.pdf",
        1,
    ),
    (
        "Which part fixes E-212 on T300 Pro units covered by FSN-2024-07?",
        "WB-300R",
        "installer-bulletin-2024-07.pdf",
        2,
    ),
    ("What is the installer code for the Installer Menu?", "0412", "installer-bulletin-2024-07.pdf", 1),
    (
        "How many days do customers have to return a product bought from the online store?",
        "45 days",
        "refund-and-sla-policy.docx",
        1,
    ),
    (
        "What is the first response time for the Pro Installer support tier?",
        "1 hour",
        "refund-and-sla-policy.docx",
        1,
    ),
    (
        "What did the 4.2.1 firmware hotfix fix?",
        "Wi-Fi not reconnecting after a router reboot",
        "firmware-release-notes-4-2.pptx",
        3,
    ),
    (
        "Can a T-series thermostat control a line-voltage electric baseboard heater?",
        "Not supported",
        "compatibility-and-error-codes.xlsx",
        1,
    ),
    (
        "What does a pulsing amber status LED mean?",
        "Firmware update in progress",
        "troubleshooting-guide.html",
        1,
    ),
    (
        "What is the default minimum compressor off-time?",
        "minimum compressor off-time is set to 5 minutes",
        "troubleshooting-guide.html",
        1,
    ),
    ("How many thermostats can one Northwind account hold?", "up to 20 thermostats", "faq.md", 1),
    (
        "What is the workaround for the humidity reading stuck at 0% on the T200?",
        "Remove the thermostat from the wall plate for 30 seconds",
        "known-issues.txt",
        1,
    ),
    (
        "Which address do I open in the browser in Wi-Fi setup mode?",
        "192.168.4.1",
        "wifi-reconnect-card.png",
        1,
    ),
    (
        "When does the legacy T-50 thermostat reach end of support?",
        "31 December 2024",
        "support-announcement-2024-08.eml",
        1,
    ),
]
