"""The retrieve family's words: each attribute value has the words catalogue items use for it and, apart, the
words a shopper uses for it. The two overlap little on purpose (after GenCRF's setting): a query in the
shopper's words finds few of the items it means, and a good reformulation says what the items say."""

# value: (the words items use, the words a shopper uses)
CATEGORIES = {
    "headphones": (["headphones", "headset", "over-ear headphones", "earphones"],
                   ["something to listen to music with", "cans for my ears", "a way to hear my podcasts"]),
    "backpack": (["backpack", "rucksack", "daypack"],
                 ["a bag I carry on my back", "something to haul my books to school", "a pack for my laptop and gear"]),
    "running shoes": (["running shoes", "trainers", "jogging sneakers"],
                      ["shoes for my morning runs", "footwear for jogging", "something for my feet at the track"]),
    "jacket": (["jacket", "coat", "parka", "anorak"],
               ["something warm to wear outside in winter", "outerwear for cold days", "a layer for chilly walks"]),
    "water bottle": (["water bottle", "flask", "hydration bottle"],
                     ["something to keep drinks in during the day", "a thing to drink from at the gym",
                      "a container for my coffee on the go"]),
    "desk lamp": (["desk lamp", "reading light", "table lamp"],
                  ["a light for my desk", "something to read by at night", "illumination for my study"]),
    "watch": (["watch", "wristwatch", "smartwatch"],
              ["something on my wrist that tells time", "a timepiece", "a thing to check the hour without my phone"]),
    "tent": (["tent", "camping shelter", "dome tent"],
             ["somewhere to sleep when camping", "a shelter for nights in the woods", "a place to stay on a trek"]),
    "blender": (["blender", "smoothie maker", "food processor"],
                ["something to make smoothies", "a kitchen gadget to crush fruit", "a machine for shakes"]),
    "camera": (["camera", "mirrorless camera", "digital camera"],
               ["something to take photos on holiday", "a device for pictures", "a way to shoot my travels"]),
}
FEATURES = {
    "waterproof": (["waterproof", "water-resistant", "rainproof"], ["that survives rain", "for wet weather"]),
    "lightweight": (["lightweight", "ultralight", "featherweight"], ["that does not weigh much", "easy to carry"]),
    "wireless": (["wireless", "bluetooth", "cordless"], ["without cables", "with no wires"]),
    "rechargeable": (["rechargeable", "usb-c charging", "built-in battery"],
                     ["that I can charge", "without throwaway batteries"]),
    "insulated": (["insulated", "thermal", "double-walled"], ["that keeps the heat in", "that holds temperature"]),
    "foldable": (["foldable", "collapsible", "folding"], ["that packs small", "that I can fold away"]),
    "quiet": (["quiet", "low-noise", "silent"], ["that does not make much noise", "not loud"]),
    "durable": (["durable", "rugged", "heavy-duty"], ["that lasts for years", "hard to break"]),
}
COLORS = {
    "black": (["black", "jet black", "onyx"], ["in black", "in a dark colour"]),
    "navy": (["navy", "navy blue", "midnight blue"], ["in dark blue", "in a deep blue"]),
    "red": (["red", "crimson", "scarlet"], ["in red", "in a bright red"]),
    "green": (["green", "olive", "forest green"], ["in green", "in an earthy green"]),
    "white": (["white", "ivory", "snow white"], ["in white", "in a light colour"]),
    "grey": (["grey", "gray", "charcoal"], ["in grey", "in a neutral grey"]),
}
MATERIALS = {
    "leather": (["leather", "full-grain leather"], ["made of leather", "in real hide"]),
    "cotton": (["cotton", "organic cotton"], ["made of natural fabric", "in soft cloth"]),
    "steel": (["stainless steel", "steel"], ["made of metal", "in metal"]),
    "plastic": (["bpa-free plastic", "recycled plastic"], ["made of plastic", "in a hard plastic"]),
    "nylon": (["nylon", "ripstop nylon"], ["in a synthetic fabric", "made of tough synthetic cloth"]),
    "aluminium": (["aluminium", "aluminum"], ["in light metal", "made of a light alloy"]),
    "bamboo": (["bamboo"], ["made of a plant fibre", "in an eco material"]),
}
BRANDS = ("Kova", "Brightline", "Nordvik", "Altura", "Pellon", "Ziro", "Marlow", "Tessa", "Orbis", "Halden",
          "Quill", "Veyra", "Sundial", "Ferro", "Lumo")
# a sentence of an item's description, with {category}, {features}, {color}, {material} filled by item words
TEMPLATES = (
    "A {material} {category} in {color}, {features}.",
    "This {color} {category} is {features}, made from {material}.",
    "{features} {category}; {material} build, {color} finish.",
    "Our {category} comes in {color}. {material} shell. Key points: {features}.",
    "{color} {material} {category}: {features}.",
)
FILLER = ("Ships in two days.", "Loved by reviewers.", "Backed by a two-year warranty.", "Great as a gift.",
          "Designed in Oslo.", "Everyday essential.", "Best seller this season.", "Easy returns.")
