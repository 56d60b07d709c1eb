"""Column names, seeds and defaults shared by every recommender."""

USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"

# Side-information columns (items and users frames).
CATEGORIES_COL = "categories"  # list of category / topic / genre names per item (or user interests)
TEXT_COL = "text"  # free text: mentor headline + expertise + experience, learner interests + searches
TITLE_COL = "title"

INTERACTION_COLUMNS = (USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL)

SEED = 42

REGISTERED_MODEL_NAME = "mentorhub-recommender"  # the MLflow registered model every recommender version is logged under

DEFAULT_K = 10
RELEVANCE_THRESHOLD = 4.0  # a rating at or above this counts as a relevant (liked) item
# Rating models take their scale (lowest, highest rating) from the data at fit time; this is only the
# scale assumed when a frame has no ratings at all (implicit feedback). An explicit `rating_scale=`
# hyperparameter overrides both.
RATING_SCALE = (1.0, 5.0)

# Optional side columns the learning-to-rank family reads (missing ones are simply not features).
PRICE_COL = "price_minor"  # items: the mentor's price per session (minor units; any one currency scale)
EXPERIENCE_COL = "years_experience"  # items
LANGUAGES_COL = "languages"  # items (and users, when known): list of language codes
UTC_OFFSET_COL = "utc_offset_hours"  # items and users: the time zone's offset from UTC, in hours
WEEK_HOURS_COL = "week_hours"  # items: hours of the week (0 = Monday 00:00 UTC .. 167) the mentor is available;
# users: the hours of the week the learner prefers
HOURS_PER_WEEK = 168
