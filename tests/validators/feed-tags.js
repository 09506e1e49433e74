// The Podcast Index's own parser (podcast-partytime) on a feed file: prints, as JSON, the
// Podcasting 2.0 tags it recognised (pc20support, by phase) and every podcast: tag it knows.
"use strict";
const fs = require("fs");
const path = require("path");
const partytime = require("podcast-partytime");

const phases = path.join(path.dirname(require.resolve("podcast-partytime")), "parser", "phase");
const known = new Set();
for (const file of fs.readdirSync(phases).filter((f) => /^phase-.*\.js$/.test(f))) {
  for (const value of Object.values(require(path.join(phases, file)))) {
    if (value && typeof value.tag === "string") { known.add(value.tag.replace(/^podcast:/, "")); }
  }
}
const feed = partytime.parseFeed(fs.readFileSync(process.argv[2], "utf8"));
if (!feed) { console.error(`${process.argv[2]}: partytime could not parse this feed`); process.exit(1); }
console.log(JSON.stringify({
  pc20support: feed.pc20support,
  known: [...known].sort(),
  title: feed.title,
  copyright: feed.copyright,
  people: feed.podcastPeople,
  items: feed.items.map((i) => ({
    title: i.title, image: i.image, itunesImage: i.itunesImage, people: i.podcastPeople,
    transcripts: i.podcastTranscripts, content: i.content,
  })),
}));
