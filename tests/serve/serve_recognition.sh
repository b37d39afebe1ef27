#!/usr/bin/env bash
# serve_recognition.sh — the recognition service over curl: one collection per API key
# (a second key sees none of the first's subjects or images), examples with paging and
# image download, detect_faces=false, recognize with prediction_count, verify against a
# stored example, the embedding variants, delete several, names with spaces and UTF-8,
# hostile subject names and ids.
set -u
source "$(dirname "$0")/lib_serve.sh"
KEY=$("$BUILD/facenet" serve --new-key --keys "$T/keys.txt")
KEY2=$("$BUILD/facenet" serve --new-key --keys "$T/keys.txt")
start_server --workers 2
H=(-H "x-api-key: $KEY"); H2=(-H "x-api-key: $KEY2")
R="$URL/api/v1/recognition"
J=(-H "Content-Type: application/json")

expect "add subject 'Ann Lee' (201)" '[ "$(http_code "${H[@]}" "${J[@]}" -d "{\"subject\":\"Ann Lee\"}" $R/subjects)" = 201 ] && [ "$(jget subject)" = "Ann Lee" ]'
code=$(http_code "${H[@]}" -F "file=@$FACES/obama.jpg" "$R/faces?subject=Barack%20Obama")
id1=$(jget image_id)
expect "add an example (201) with a UUID image_id" '[ "$code" = 201 ] && [[ "$id1" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]'
code=$(http_code "${H[@]}" -F "file=@$FACES/obama2.jpg" "$R/faces?subject=Barack%20Obama&det_prob_threshold=0.8")
id2=$(jget image_id)
code=$(http_code "${H[@]}" -F "file=@$FACES/biden.jpg" "$R/faces?subject=Jos%C3%A9%20Biden")
id3=$(jget image_id)
expect "add with a UTF-8 name (201)" '[ "$code" = 201 ] && [ "$(jget subject)" = "José Biden" ]'
# a face crop added with detect_faces=false (the photo is the face)
/usr/bin/python3 -c "
from PIL import Image; Image.open('$FACES/biden.jpg').crop((427, 167, 714, 560)).save('$T/biden_crop.jpg')"
code=$(http_code "${H[@]}" -F "file=@$T/biden_crop.jpg" "$R/faces?subject=Crop%20Test&detect_faces=false")
id4=$(jget image_id)
expect "add a face crop with detect_faces=false (201)" '[ "$code" = 201 ] && [ -n "$id4" ]'
http_code "${H[@]}" "$R/subjects/" >/dev/null
expect "list subjects (trailing slash): Ann Lee, Barack Obama, Crop Test, José Biden" '[ "$(jget subjects)" = "[\"Ann Lee\", \"Barack Obama\", \"Crop Test\", \"Jos\\u00e9 Biden\"]" ]'
http_code "${H[@]}" "$R/faces?page=1&size=2" >/dev/null
expect "paging: page 1 of size 2 holds 2 of 4, total_pages 2" '[ "$(jget total_elements)" = 4 ] && [ "$(jget total_pages)" = 2 ] && [ "$(jget page_number)" = 1 ] && [ "$(jget page_size)" = 2 ] && [ "$(jget faces | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 2 ]'
http_code "${H[@]}" "$R/faces?subject=Barack%20Obama" >/dev/null
expect "list one subject's examples" '[ "$(jget total_elements)" = 2 ]'
curl -s -o "$T/img1" "${H[@]}" "$R/faces/$id1/img"
expect "download the image: the uploaded bytes" 'cmp -s "$T/img1" "$FACES/obama.jpg"'
curl -s -o "$T/img1s" "$URL/api/v1/static/$KEY/images/$id1"
expect "direct download with the key in the path" 'cmp -s "$T/img1s" "$FACES/obama.jpg"'

# ---- another key: its own empty collection, none of the first key's data
http_code "${H2[@]}" "$R/subjects" >/dev/null
expect "key 2 sees no subjects" '[ "$(jget subjects)" = "[]" ]'
expect "key 2 cannot download key 1's image" '[ "$(http_code "${H2[@]}" "$R/faces/$id1/img")" = 404 ]'
expect "key 2 cannot download it by the static URL with its own key" '[ "$(http_code "$URL/api/v1/static/$KEY2/images/$id1")" = 404 ]'
expect "key 2 cannot delete key 1's example" '[ "$(http_code "${H2[@]}" -X DELETE "$R/faces/$id1")" = 404 ]'
expect "key 2 cannot verify against key 1's example" '[ "$(http_code "${H2[@]}" -F "file=@$FACES/obama.jpg" "$R/faces/$id1/verify")" = 404 ]'
code=$(http_code "${H2[@]}" -F "file=@$FACES/obama-480p.jpg" "$R/recognize")
expect "key 2's recognize finds no subjects" '[ "$code" = 200 ] && [ "$(jget result.0.subjects)" = "[]" ]'
expect "a wrong key in the static URL: 401" '[ "$(http_code "$URL/api/v1/static/nope-nope-nope/images/$id1")" = 401 ]'

# ---- recognize, verify, embeddings
code=$(http_code "${H[@]}" -F "file=@$FACES/knn_examples/test/obama_and_biden.jpg" "$R/recognize?prediction_count=2&face_plugins=calculator&status=true")
expect "recognize obama_and_biden: Barack Obama and José Biden named (> 0.5), 2 predictions, embeddings" '/usr/bin/python3 - "$T/body" <<EOF
import json, sys
r = json.load(open(sys.argv[1]))["result"]
best = {f["subjects"][0]["subject"] for f in r if f["subjects"] and f["subjects"][0]["similarity"] > 0.5}
assert {"Barack Obama", "José Biden"} <= best, r
assert all(len(f["subjects"]) == 2 and f["subjects"][0]["similarity"] >= f["subjects"][1]["similarity"] for f in r)
assert all(len(f["embedding"]) == 128 and "execution_time" in f for f in r)
EOF'
/usr/bin/python3 -c "import json; print(json.dumps({'embeddings': [json.load(open('$T/body'))['result'][0]['embedding']]}))" >"$T/emb.json"
code=$(http_code "${H[@]}" "${J[@]}" --data-binary @"$T/emb.json" "$R/embeddings/recognize?prediction_count=1")
expect "embeddings/recognize: the face's own subject" '[ "$code" = 200 ] && [ -n "$(jget result.0.similarities.0.subject)" ]'
code=$(http_code "${H[@]}" "${J[@]}" --data-binary @"$T/emb.json" "$R/embeddings/faces/$id1/verify")
expect "embeddings/faces/{id}/verify answers a similarity" '[ "$code" = 200 ] && [ -n "$(jget result.0.similarity)" ]'
code=$(http_code "${H[@]}" -F "file=@$FACES/obama-720p.jpg" "$R/faces/$id1/verify?face_plugins=landmarks")
expect "verify obama-720p against the obama example: > 0.5" '[ "$code" = 200 ] && /usr/bin/python3 -c "assert $(jget result.0.similarity) > 0.5" && [ -n "$(jget result.0.landmarks)" ]'
code=$(http_code "${H[@]}" -F "file=@$FACES/biden.jpg" "$R/faces/$id1/verify")
expect "verify biden against the obama example: < 0.5" '[ "$code" = 200 ] && /usr/bin/python3 -c "assert $(jget result.0.similarity) < 0.5"'
check_4xx() { local name=$1; shift; local code; code=$(http_code "$@"); expect "$name: 4xx ($code) with a message" '[ "${code:0:1}" = 4 ] && [ -n "$(jget message)" ]'; }
check_4xx "embeddings of the wrong size" "${H[@]}" "${J[@]}" -d '{"embeddings":[[1,2,3]]}' "$R/embeddings/recognize"
check_4xx "embeddings not numbers" "${H[@]}" "${J[@]}" -d '{"embeddings":[["a"]]}' "$R/embeddings/recognize"
check_4xx "an all-zero embedding" "${H[@]}" "${J[@]}" -d "{\"embeddings\":[[$(printf '0,%.0s' $(seq 127))0]]}" "$R/embeddings/recognize"

# ---- hostile names and ids
check_4xx "add an example without a subject" "${H[@]}" -F "file=@$FACES/obama.jpg" "$R/faces"
check_4xx "a 300-byte subject" "${H[@]}" "${J[@]}" -d "{\"subject\":\"$(printf 'x%.0s' $(seq 300))\"}" "$R/subjects"
check_4xx "subject not a string" "${H[@]}" "${J[@]}" -d '{"subject":5}' "$R/subjects"
check_4xx "subject with a NUL" "${H[@]}" "${J[@]}" -d '{"subject":"a\u0000b"}' "$R/subjects"
check_4xx "an image id that is not one" "${H[@]}" "$R/faces/12345/img"
check_4xx "an id with path tricks" "${H[@]}" -X DELETE "$R/faces/..%2F$id1"
check_4xx "an unknown id" "${H[@]}" -X DELETE "$R/faces/00000000-0000-4000-8000-0000000fffff"
check_4xx "rename a missing subject" "${H[@]}" "${J[@]}" -X PUT -d '{"subject":"x"}' "$R/subjects/nobody"
check_4xx "delete a missing subject" "${H[@]}" -X DELETE "$R/subjects/nobody"
code=$(http_code "${H[@]}" "${J[@]}" -d '{"subject":"../../etc/passwd"}' "$R/subjects")
expect "a subject named ../../etc/passwd is just a name (201)" '[ "$code" = 201 ]'

# ---- rename merges, delete several, delete by subject, delete all
expect "rename José Biden -> Ann Lee merges (updated)" '[ "$(http_code "${H[@]}" "${J[@]}" -X PUT -d "{\"subject\":\"Ann Lee\"}" "$R/subjects/Jos%C3%A9%20Biden")" = 200 ] && [ "$(jget updated)" = True ]'
http_code "${H[@]}" "$R/faces?subject=Ann%20Lee" >/dev/null
expect "Ann Lee now holds the merged example" '[ "$(jget total_elements)" = 1 ]'
code=$(http_code "${H[@]}" "${J[@]}" -d "[\"$id2\", \"$id4\", \"not-an-id\"]" "$R/faces/delete")
expect "delete several: two deleted, the bad id skipped" '[ "$code" = 200 ] && [ "$(jget deleted | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 2 ]'
code=$(http_code "${H[@]}" -X DELETE "$R/faces?subject=Barack%20Obama")
expect "delete a subject's examples: 1 deleted, the subject stays" '[ "$code" = 200 ] && [ "$(jget deleted)" = 1 ] && [ "$(http_code "${H[@]}" "$R/subjects")" = 200 ] && grep -q "Barack Obama" $T/body'
code=$(http_code "${H[@]}" -X DELETE "$R/subjects")
expect "delete all subjects (Ann Lee, Barack Obama, Crop Test, ../../etc/passwd)" '[ "$code" = 200 ] && [ "$(jget deleted)" = 4 ]'
http_code "${H[@]}" "$R/faces" >/dev/null
expect "the collection is empty" '[ "$(jget total_elements)" = 0 ]'
expect "the server is still up" '[ "$(http_code $URL/health)" = 200 ]'
stop_server
finish serve_recognition
