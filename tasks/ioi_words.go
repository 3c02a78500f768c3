package tasks

import "strings"

// The templates and word lists of the IOI task (Wang et al. 2022,
// ioi_dataset.py of redwoodresearch/Easy-Transformer).

// BABATemplates are the 15 BABA templates of Wang et al., in their order.
// [A] is the indirect object (IO), [B] the subject (S); every template ends
// with " [A]", the answer. ABBATemplate gives the ABBA form.
var BABATemplates = []string{
	"Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
	"Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]",
	"Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]",
	"Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]",
	"Then, [B] and [A] had a long argument, and afterwards [B] said to [A]",
	"After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]",
	"When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]",
	"When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give the [OBJECT] to [A]",
	"While [B] and [A] were working at the [PLACE], [B] gave a [OBJECT] to [A]",
	"While [B] and [A] were commuting to the [PLACE], [B] gave a [OBJECT] to [A]",
	"After the lunch, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
	"Afterwards, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
	"Then, [B] and [A] had a long argument. Afterwards [B] said to [A]",
	"The [PLACE] [B] and [A] went to had a [OBJECT]. [B] gave it to [A]",
	"Friends [B] and [A] found a [OBJECT] at the [PLACE]. [B] gave it to [A]",
}

// ABBATemplate returns the ABBA form of a BABA template as ioi_dataset.py
// builds it: in the first clause, [B] and [A] swap places ("When [A] and
// [B] went to the store, [B] gave a drink to [A]").
func ABBATemplate(baba string) string {
	i, j := strings.Index(baba, "[B]"), strings.Index(baba, "[A]")
	if i < 0 || j < 0 || j < i {
		return baba
	}
	b := []byte(baba)
	b[i+1], b[j+1] = 'A', 'B'
	return string(b)
}

// IOIPaperNames are the 100 names of Wang et al.; ioi-gpt2 uses those that
// are one GPT-2 token with a leading space.
var IOIPaperNames = []string{
	"Michael", "Christopher", "Jessica", "Matthew", "Ashley", "Jennifer", "Joshua", "Amanda", "Daniel", "David",
	"James", "Robert", "John", "Joseph", "Andrew", "Ryan", "Brandon", "Jason", "Justin", "Sarah", "William",
	"Jonathan", "Stephanie", "Brian", "Nicole", "Nicholas", "Anthony", "Heather", "Eric", "Elizabeth", "Adam",
	"Megan", "Melissa", "Kevin", "Steven", "Thomas", "Timothy", "Christina", "Kyle", "Rachel", "Laura", "Lauren",
	"Amber", "Brittany", "Danielle", "Richard", "Kimberly", "Jeffrey", "Amy", "Crystal", "Michelle", "Tiffany",
	"Jeremy", "Benjamin", "Mark", "Emily", "Aaron", "Charles", "Rebecca", "Jacob", "Stephen", "Patrick", "Sean",
	"Erin", "Jamie", "Kelly", "Samantha", "Nathan", "Sara", "Dustin", "Paul", "Angela", "Tyler", "Scott",
	"Katherine", "Andrea", "Gregory", "Erica", "Mary", "Travis", "Lisa", "Kenneth", "Bryan", "Lindsey", "Kristen",
	"Jose", "Alexander", "Jesse", "Katie", "Lindsay", "Shannon", "Vanessa", "Courtney", "Christine", "Alicia",
	"Cody", "Allison", "Bradley", "Samuel",
}

// IOIPaperPlaces and IOIPaperObjects are the places and objects of Wang et al.
var (
	IOIPaperPlaces  = []string{"store", "garden", "restaurant", "school", "hospital", "office", "house", "station"}
	IOIPaperObjects = []string{"ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack"}
)

// The toy IOI vocabulary: 30 names of the paper's list, its places and
// objects plus two of each.
var (
	ToyIOINames = []string{
		"Mary", "John", "Michael", "Jessica", "Matthew", "Ashley", "Jennifer", "Joshua", "Amanda", "Daniel",
		"David", "James", "Robert", "Joseph", "Andrew", "Ryan", "Sarah", "William", "Brian", "Nicole",
		"Anthony", "Heather", "Eric", "Adam", "Megan", "Kevin", "Thomas", "Rachel", "Laura", "Paul",
	}
	ToyIOIPlaces  = append(append([]string(nil), IOIPaperPlaces...), "park", "library")
	ToyIOIObjects = append(append([]string(nil), IOIPaperObjects...), "book", "flower")
)

// ToySurnames are the surnames of "ioi:names=surname" (ToySurnameTokenizer adds them after
// ToyTokenizer's words).
var ToySurnames = []string{
	"Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Johnson", "Roberts", "Walker", "Wright",
	"Robinson", "Thompson", "Hughes", "Edwards", "Hall", "Wood", "Harris", "Lewis", "Jackson", "Clarke",
}
