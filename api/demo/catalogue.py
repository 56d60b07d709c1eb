"""The fixed vocabulary of the demo world: topics, names, places, roles and texts.

Everything here is plain data in a fixed order, so that a seeded generator drawing from it gives
the same world every time. Companies are fictional; e-mail domains are the reserved example ones.
"""
from __future__ import annotations

# (slug, name, category, popularity, search keywords). Popularity drives both how many mentors
# teach a topic and how many learners care about it, as on a real marketplace.
TOPICS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("python", "Python", "programming", 10.0, ("python", "python tutor", "django", "pandas help", "learn python")),
    ("javascript", "JavaScript", "programming", 8.0, ("javascript", "js", "react", "node.js", "typescript")),
    ("go", "Go", "programming", 3.0, ("golang", "go", "go concurrency")),
    ("rust", "Rust", "programming", 2.5, ("rust", "rust borrow checker", "rust async")),
    ("java", "Java", "programming", 5.0, ("java", "spring boot", "java interview")),
    ("csharp", "C# and .NET", "programming", 3.0, ("c#", ".net", "asp.net core")),
    ("web-development", "Web development", "programming", 6.0, ("web development", "html css", "frontend", "full stack")),
    ("mobile-development", "Mobile development", "programming", 3.5, ("ios", "android", "flutter", "swift")),
    ("system-design", "System design", "programming", 5.0, ("system design", "system design interview", "scalability")),
    ("devops", "DevOps and cloud", "programming", 4.0, ("devops", "kubernetes", "aws", "docker", "terraform")),
    ("sql", "SQL", "data", 6.0, ("sql", "postgres", "sql queries", "database design")),
    ("machine-learning", "Machine learning", "data", 8.0, ("machine learning", "ml", "deep learning", "pytorch", "scikit-learn")),
    ("statistics", "Statistics", "data", 3.5, ("statistics", "stats", "a/b testing", "probability")),
    ("data-engineering", "Data engineering", "data", 4.0, ("data engineering", "spark", "airflow", "etl")),
    ("data-analysis", "Data analysis", "data", 5.0, ("data analysis", "excel", "tableau", "power bi")),
    ("ui-ux", "UI/UX design", "design", 5.0, ("ux", "ui design", "user research", "ux portfolio")),
    ("figma", "Figma", "design", 3.0, ("figma", "figma prototyping", "design systems")),
    ("illustration", "Illustration", "design", 2.0, ("illustration", "procreate", "digital art")),
    ("graphic-design", "Graphic design", "design", 2.5, ("graphic design", "branding", "logo design")),
    ("english", "English", "languages", 9.0, ("english", "english conversation", "ielts", "business english")),
    ("spanish", "Spanish", "languages", 6.0, ("spanish", "spanish conversation", "dele")),
    ("french", "French", "languages", 4.0, ("french", "french grammar", "delf")),
    ("german", "German", "languages", 3.5, ("german", "deutsch", "goethe exam")),
    ("japanese", "Japanese", "languages", 3.0, ("japanese", "jlpt", "japanese kanji")),
    ("mandarin", "Mandarin Chinese", "languages", 2.0, ("mandarin", "chinese", "hsk")),
    ("guitar", "Guitar", "music", 3.5, ("guitar", "guitar lessons", "fingerstyle")),
    ("piano", "Piano", "music", 3.0, ("piano", "piano lessons", "music theory piano")),
    ("music-production", "Music production", "music", 2.5, ("music production", "ableton", "mixing", "logic pro")),
    ("singing", "Singing", "music", 2.0, ("singing", "vocal coach", "voice lessons")),
    ("product-management", "Product management", "business", 5.0, ("product management", "pm interview", "roadmaps")),
    ("marketing", "Digital marketing", "business", 4.0, ("marketing", "seo", "growth marketing", "google ads")),
    ("startup-fundraising", "Startup fundraising", "business", 2.5, ("fundraising", "pitch deck", "seed round", "venture capital")),
    ("public-speaking", "Public speaking", "business", 3.0, ("public speaking", "presentation skills", "speech coach")),
    ("career-coaching", "Career coaching", "business", 4.0, ("career coaching", "resume review", "job interview")),
    ("leadership", "Engineering leadership", "business", 3.0, ("leadership", "engineering manager", "team lead")),
    ("finance", "Personal finance and accounting", "business", 2.5, ("accounting", "financial modeling", "personal finance")),
)

CATEGORY_NAMES = {
    "programming": "Programming",
    "data": "Data",
    "design": "Design",
    "languages": "Languages",
    "music": "Music",
    "business": "Business",
}

# A mentor's price level (USD per hour at 5 years of experience) by category.
CATEGORY_BASE_PRICE_USD = {
    "programming": 55.0,
    "data": 60.0,
    "design": 45.0,
    "languages": 28.0,
    "music": 38.0,
    "business": 70.0,
}

# time zone -> (weight, currency, phone prefix, name origins, language spoken besides English)
ZONES: tuple[tuple[str, float, str, str, tuple[str, ...], str | None], ...] = (
    ("America/New_York", 14.0, "USD", "+1", ("anglo", "hispanic", "african", "indian", "chinese"), None),
    ("America/Chicago", 6.0, "USD", "+1", ("anglo", "hispanic", "african"), None),
    ("America/Los_Angeles", 10.0, "USD", "+1", ("anglo", "hispanic", "chinese", "korean", "indian"), None),
    ("America/Sao_Paulo", 5.0, "USD", "+55", ("brazilian",), "pt"),
    ("America/Mexico_City", 4.0, "USD", "+52", ("hispanic",), "es"),
    ("Europe/London", 10.0, "GBP", "+44", ("anglo", "indian", "african", "arabic"), None),
    ("Europe/Berlin", 7.0, "EUR", "+49", ("german", "turkish"), "de"),
    ("Europe/Paris", 5.0, "EUR", "+33", ("french", "arabic"), "fr"),
    ("Europe/Madrid", 4.0, "EUR", "+34", ("spanish",), "es"),
    ("Africa/Lagos", 4.0, "USD", "+234", ("african",), None),
    ("Asia/Kolkata", 14.0, "INR", "+91", ("indian",), "hi"),
    ("Asia/Singapore", 3.0, "USD", "+65", ("chinese", "indian"), "zh"),
    ("Asia/Tokyo", 5.0, "USD", "+81", ("japanese",), "ja"),
    ("Asia/Seoul", 3.0, "USD", "+82", ("korean",), "ko"),
    ("Australia/Sydney", 5.0, "USD", "+61", ("anglo", "chinese"), None),
)

# Fixed exchange rates of the demo (value of one major unit in USD).
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "INR": 0.012}

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "anglo": ("James", "Emily", "Oliver", "Sophie", "Michael", "Hannah", "Daniel", "Grace", "Thomas", "Chloe",
              "Ryan", "Megan", "Jack", "Laura", "Ethan", "Olivia", "Nathan", "Rachel", "Liam", "Zoe"),
    "hispanic": ("Carlos", "Lucia", "Diego", "Valentina", "Mateo", "Camila", "Javier", "Isabella", "Andres",
                 "Sofia", "Luis", "Gabriela", "Miguel", "Daniela", "Alejandro", "Mariana"),
    "brazilian": ("Joao", "Ana", "Pedro", "Beatriz", "Lucas", "Larissa", "Gabriel", "Fernanda", "Rafael",
                  "Juliana", "Thiago", "Camila"),
    "spanish": ("Pablo", "Lucia", "Alvaro", "Carmen", "Sergio", "Elena", "Javier", "Marta", "Raul", "Paula"),
    "african": ("Chinedu", "Amara", "Tunde", "Ngozi", "Kwame", "Ama", "Emeka", "Zainab", "Oluwaseun", "Adaeze",
                "Kofi", "Folake", "Ibrahim", "Chioma"),
    "indian": ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul", "Divya",
               "Siddharth", "Meera", "Karthik", "Ishita", "Aditya", "Pooja", "Nikhil", "Shreya"),
    "german": ("Lukas", "Lea", "Jonas", "Anna", "Felix", "Laura", "Maximilian", "Katharina", "Paul", "Julia",
               "Tobias", "Sarah"),
    "turkish": ("Emre", "Elif", "Mehmet", "Zeynep", "Can", "Ayse"),
    "french": ("Hugo", "Camille", "Louis", "Chloe", "Antoine", "Manon", "Julien", "Ines", "Mathieu", "Clara"),
    "arabic": ("Omar", "Layla", "Youssef", "Amira", "Karim", "Nour", "Hassan", "Salma"),
    "japanese": ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takumi", "Sakura", "Kenji", "Yuki"),
    "chinese": ("Wei", "Mei", "Jun", "Lin", "Hao", "Xin", "Yang", "Jing", "Chen", "Li"),
    "korean": ("Minjun", "Seoyeon", "Jiho", "Jiwoo", "Hyunwoo", "Soyeon", "Donghyun", "Yerin"),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "anglo": ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thompson", "Walker", "White",
              "Roberts", "Clarke", "Harris", "Lewis", "Young", "Hughes", "Murphy", "Campbell"),
    "hispanic": ("Garcia", "Martinez", "Rodriguez", "Lopez", "Hernandez", "Gonzalez", "Perez", "Sanchez",
                 "Ramirez", "Torres", "Flores", "Rivera", "Morales", "Ortiz"),
    "brazilian": ("Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira", "Lima",
                  "Carvalho"),
    "spanish": ("Fernandez", "Ruiz", "Jimenez", "Moreno", "Alonso", "Navarro", "Dominguez", "Gil", "Serrano"),
    "african": ("Okafor", "Adeyemi", "Mensah", "Balogun", "Okonkwo", "Nwosu", "Asante", "Eze", "Abubakar",
                "Boateng", "Ogunleye", "Danjuma"),
    "indian": ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Kumar", "Menon", "Desai", "Rao",
               "Chatterjee", "Joshi", "Krishnan", "Bhat", "Verma"),
    "german": ("Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch",
               "Richter", "Wolf", "Neumann"),
    "turkish": ("Yilmaz", "Kaya", "Demir", "Sahin", "Celik", "Aydin"),
    "french": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy", "Moreau",
               "Laurent", "Girard"),
    "arabic": ("Haddad", "Khalil", "Mansour", "Nasser", "Saleh", "Aziz", "Farouk", "Hamdan"),
    "japanese": ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
                 "Kobayashi", "Kato"),
    "chinese": ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Tan", "Lim"),
    "korean": ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"),
}

EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

COMPANIES = ("Northwind Traders", "Contoso", "Fabrikam", "Tailspin Toys", "Litware", "Proseware",
             "Woodgrove Bank", "Coho Winery", "Lucerne Publishing", "Alpine Ski House", "Trey Research",
             "Wingtip Toys", "Adatum", "Fourth Coffee", "Humongous Insurance", "Margie's Travel",
             "Graphic Design Institute", "School of Fine Art", "City Language Centre", "Riverside Conservatory")

ROLES: dict[str, tuple[str, ...]] = {
    "programming": ("Software engineer", "Senior software engineer", "Staff engineer", "Backend developer",
                    "Frontend engineer", "Tech lead", "Site reliability engineer", "Principal engineer"),
    "data": ("Data scientist", "Senior data scientist", "Machine learning engineer", "Data engineer",
             "Analytics lead", "Research scientist", "BI developer"),
    "design": ("Product designer", "Senior UX designer", "UI designer", "Design lead", "Illustrator",
               "Art director", "UX researcher"),
    "languages": ("Language teacher", "Certified examiner", "Translator", "Head of languages", "Interpreter",
                  "Curriculum designer"),
    "music": ("Session musician", "Music teacher", "Producer", "Sound engineer", "Composer", "Vocal coach"),
    "business": ("Product manager", "Head of marketing", "Founder", "Venture partner", "Engineering manager",
                 "Management consultant", "Communications coach", "Finance manager"),
}

CERTIFICATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "programming": (("AWS Certified Developer - Associate", "Amazon Web Services"),
                    ("Certified Kubernetes Application Developer", "The Linux Foundation"),
                    ("Oracle Certified Professional: Java SE Developer", "Oracle"),
                    ("Professional Cloud Architect", "Google Cloud"),
                    ("Microsoft Certified: Azure Developer Associate", "Microsoft")),
    "data": (("Professional Data Engineer", "Google Cloud"),
             ("Azure Data Scientist Associate", "Microsoft"),
             ("Databricks Certified Data Engineer Professional", "Databricks"),
             ("MSc Statistics", "University of Edinburgh"),
             ("Deep Learning Specialization", "DeepLearning.AI")),
    "design": (("Google UX Design Professional Certificate", "Google"),
               ("Adobe Certified Professional: Visual Design", "Adobe"),
               ("Interaction Design Foundation Certificate", "Interaction Design Foundation"),
               ("BA Illustration", "University of the Arts London")),
    "languages": (("CELTA", "Cambridge English"), ("DELE C2", "Instituto Cervantes"),
                  ("DALF C2", "France Education international"), ("Goethe-Zertifikat C2", "Goethe-Institut"),
                  ("JLPT N1", "Japan Foundation"), ("TESOL Certificate", "Trinity College London"),
                  ("HSK 6", "Chinese Testing International")),
    "music": (("ABRSM Grade 8 with Distinction", "ABRSM"),
              ("Certificate in Music Production", "Berklee Online"),
              ("Ableton Certified Trainer", "Ableton"),
              ("Diploma in Music Performance", "Trinity College London")),
    "business": (("Project Management Professional (PMP)", "PMI"),
                 ("Certified Scrum Product Owner", "Scrum Alliance"),
                 ("Google Ads Search Certification", "Google"),
                 ("Distinguished Toastmaster", "Toastmasters International"),
                 ("Chartered Accountant (ACA)", "ICAEW")),
}

HEADLINE_TEMPLATES = (
    "{role} helping you master {topics}",
    "{years}+ years as a {role_lower}: {topics}",
    "{topics} mentor | {role} at {company}",
    "Practical {topics} coaching from a {role_lower}",
    "{role} | {topics} | patient, structured sessions",
)

BIO_TEMPLATES = (
    "I have spent {years} years working as a {role_lower}, most recently at {company}. In our sessions we "
    "work on {topics} with real examples from your own projects. I prepare a short plan after the first call "
    "and share notes after each session.",
    "Hi! I'm {first}. I mentor people who want to get confident in {topics}. Before mentoring I was a "
    "{role_lower} at {company} for {years} years. Expect honest feedback, homework if you want it, and a "
    "lot of practice.",
    "{first} here, {role_lower} with {years} years of experience. I enjoy breaking down {topics} into "
    "small, clear steps. Beginners are welcome; I also help experienced people prepare for interviews and "
    "exams.",
    "My background: {years} years in the field, roles at {company} and {company2}. I focus on {topics}. "
    "Sessions are hands-on: bring a question, a piece of work or a goal, and we'll make progress on it "
    "together.",
)

INTEREST_TEMPLATES = {
    "programming": ("I want to get better at {topics} to move into a developer role.",
                    "Preparing for coding interviews; working on {topics}.",
                    "Building side projects, looking for help with {topics}."),
    "data": ("Switching careers into data, learning {topics}.",
             "I work with data every day and want to deepen my {topics}.",
             "Studying {topics} for my master's thesis."),
    "design": ("Building a design portfolio: {topics}.",
               "Developer who wants to learn {topics}.",
               "Freelancing and improving my {topics} skills."),
    "languages": ("Learning {topics} for work and travel.",
                  "Preparing for a language exam: {topics}.",
                  "Moving abroad soon, need conversation practice in {topics}."),
    "music": ("Hobbyist, want structured lessons in {topics}.",
              "Getting back into {topics} after many years.",
              "Writing my own songs; {topics}."),
    "business": ("First-time founder, need advice on {topics}.",
                 "Aiming for a promotion; working on {topics}.",
                 "Looking for a mentor in {topics}."),
}

QUERY_SUFFIXES = ("", "", "", " for beginners", " tutor", " mentor", " interview prep", " advanced")

BOOKING_NOTES = (
    "", "", "",
    "Would love to go through my current project with you.",
    "I'm a beginner, please keep it simple!",
    "Preparing for an interview next week.",
    "Can we focus on the basics first?",
    "I have a specific problem I'm stuck on; I'll send details beforehand.",
    "Looking for a regular weekly slot if this goes well.",
)

REJECT_REASONS = (
    "Fully booked that week, sorry! Please pick another slot.",
    "This request is outside my area of expertise.",
    "I'm travelling on that date.",
)

LEARNER_CANCEL_REASONS = ("Something came up at work.", "I'm unwell.", "Need to reschedule.", "")
MENTOR_CANCEL_REASONS = ("Family emergency, I'm very sorry.", "I'm ill and can't run the session.",
                         "Calendar conflict on my side.")

MENTOR_REJECT_REASONS = (
    "Certification could not be verified.",
    "Profile is incomplete: please add your experience and a clear bio.",
    "Pricing and session details do not match our guidelines.",
)

EXCEPTION_NOTES = ("Public holiday", "Vacation", "Conference", "Personal day")

REVIEW_TEXTS = {
    5: ("{first} is an outstanding mentor. I finally understand {topic}!",
        "Incredibly clear explanations and great examples. Highly recommended for {topic}.",
        "Best session I've had on this platform. {first} prepared exercises just for me.",
        "Patient, knowledgeable and fun. Already booked again.",
        "Exactly what I needed for {topic}. Thank you!"),
    4: ("Very helpful session on {topic}, a few things went by a bit fast.",
        "Good mentor, solid advice. Would book again.",
        "{first} knows {topic} really well. Useful homework too.",
        "Great session overall; the first minutes were spent on setup."),
    3: ("It was okay. Some useful tips on {topic} but not much structure.",
        "Decent session, though I expected more depth.",
        "Fine, but the pace didn't really match my level."),
    2: ("Not very prepared; we spent a lot of time on basics I already knew.",
        "The session started late and felt rushed.",
        "Hard to follow and little focus on my questions about {topic}."),
    1: ("Very disappointing. Did not address my questions at all.",
        "The mentor was distracted and the session ended early."),
}

MENTOR_REPLIES = ("Thanks so much, it was a pleasure!", "Thank you for the kind words, see you next time.",
                  "Thanks for the feedback, I'll take it on board.", "Glad it helped!")

CHAT_OPENERS = (
    "Hi everyone! I'm new here and learning {topic}. Any tips on where to start?",
    "What resources would you recommend for {topic}?",
    "Has anyone prepared for an interview in {topic} recently? How did it go?",
    "Is it realistic to get good at {topic} in three months with an hour a day?",
    "Just had a great session on {topic}, feeling motivated!",
    "How do you stay consistent when practising {topic}?",
)
CHAT_ANSWERS = (
    "Start small and practise every day; consistency beats long sessions.",
    "A mentor session helped me a lot to find a plan, then I worked through it on my own.",
    "I'd pick one good book or course and finish it before jumping to the next one.",
    "Projects! Build something you care about and learn what you need along the way.",
    "Totally doable, just set a concrete goal for each week.",
    "Happy to share my notes if anyone wants them.",
    "Same here, welcome!",
)
GENERAL_MESSAGES = (
    "Welcome to MentorHub! Introduce yourself here.",
    "Hi all, I'm learning {topic} at the moment.",
    "Does anyone want to form a study group for {topic}?",
    "Tip: book a short intro session first to see if the mentor is a good fit.",
    "Good morning from {city}!",
)
CITIES = ("Lisbon", "Pune", "Austin", "Berlin", "Lagos", "Osaka", "Toronto", "Manchester", "Madrid", "Sydney")
