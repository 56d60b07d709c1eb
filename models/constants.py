"""Column names, seeds and defaults shared by every recommender."""

USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
PREDICTION_COL = "prediction"

# Side-information columns (items and users frames).
CATEGORIES_COL = "categories"  # list of category / topic / genre names per item (or user interests)
TEXT_COL = "text"  # free text: mentor headline + expertise + experience, learner interests + searches
TITLE_COL = "title"

INTERACTION_COLUMNS = (USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL)

SEED = 42

DEFAULT_K = 10
RELEVANCE_THRESHOLD = 4.0  # a rating at or above this counts as a relevant (liked) item
# Rating models take their scale (lowest, highest rating) from the data at fit time; this is only the
# scale assumed when a frame has no ratings at all (implicit feedback). An explicit `rating_scale=`
# hyperparameter overrides both.
RATING_SCALE = (1.0, 5.0)
