#!/usr/bin/env bash
# Makes a long synthetic reading with its exact text: espeak-ng reads
# the text below twice, without pauses between paragraphs (about 250 s).
# Usage: bench/make_long_reading.sh OUT_DIR   (needs espeak-ng and sox)
set -euo pipefail
out=${1:?output directory}
mkdir -p "$out"
cat > "$out/long_reading.txt" <<'TEXT'
The town library opens at nine in the morning and closes at six in the evening. On most days a small line of readers waits at the door before the first bell. The head librarian keeps a notebook of every question she cannot answer at once, and she finds the answer before the end of the week.
In the spring the river rises and the old bridge is closed for a few days. Farmers drive the long way around through the forest, and the children walk to school along the railway path. Nobody complains very much, because the water always goes down again and the fields are green afterwards.
The bakery on the corner sells bread, cakes and a famous apple pie. Its owner starts work at four o'clock, long before the sun comes up, and he says that the quiet hours are the best part of his day. He listens to the radio, shapes the dough and watches the street lights go out one by one.
Every summer the school holds a science fair in the main hall. Students build model volcanoes, measure the growth of plants under coloured lights and test which paper aeroplane flies the furthest. The judges are local engineers and nurses, and they ask careful questions about every project.
In autumn the market square fills with stalls selling pumpkins, honey and warm woollen scarves. A brass band plays on Saturday afternoons, and the mayor gives a short speech that nobody remembers by the evening. Visitors come from the nearby villages and stay for supper at the inn.
The winter is long and dark, but the town has its own habits for the cold months. People gather in the community centre to play chess, repair old bicycles and share soup from a large pot. The heating is not very good, so everyone keeps their coats on and drinks a great deal of tea.
A new railway line will connect the town to the city within three years. Some people hope it will bring work and visitors, while others fear that the quiet streets will become crowded and noisy. The council has promised to plant a row of trees along the tracks and to keep the station small.
TEXT
# Read twice over, for about four minutes of continuous speech.
cat "$out/long_reading.txt" "$out/long_reading.txt" > "$out/long_reading.twice.txt"
mv "$out/long_reading.twice.txt" "$out/long_reading.txt"
espeak-ng -v en-us -s 160 -f "$out/long_reading.txt" -w "$out/long_reading.raw.wav"
sox "$out/long_reading.raw.wav" -r 16000 -c 1 -b 16 "$out/long_reading.wav"
rm -f "$out/long_reading.raw.wav"
