"""Load the plain-language catalog of what common tests measure (LabTestGuide).

A frozen copy of portal/records/lab_guides.py as it stood when this migration was
written: migrations must give the same database whenever they run. Later changes to
the catalog come as new data migrations.
"""

from django.db import migrations

GUIDES = (
    (
        "51990-0",
        "Basic metabolic panel",
        "A group of blood tests that checks your blood sugar, the balance of salts and water in your body, and how well your kidneys are working.",
    ),
    (
        "24323-8",
        "Comprehensive metabolic panel",
        "The basic metabolic panel plus tests of your liver and of the proteins in your blood. Together they give a broad picture of your body's chemistry.",
    ),
    (
        "58410-2",
        "Complete blood count (CBC)",
        "Counts the red cells that carry oxygen, the white cells that fight infection and the platelets that help your blood clot.",
    ),
    (
        "24331-1",
        "Lipid panel",
        "Measures the fats in your blood, cholesterol and triglycerides. The results help estimate your risk of heart disease and stroke.",
    ),
    (
        "24357-6",
        "Urinalysis",
        "A dipstick test of a urine sample that looks for signs of infection, kidney problems and high blood sugar.",
    ),
    (
        "2345-7",
        "Glucose",
        "The amount of sugar in your blood when the sample was taken. It means most after eight hours without food; high values can be a sign of diabetes.",
    ),
    (
        "3094-0",
        "Urea nitrogen (BUN)",
        "A waste product made when your body breaks down protein, which your kidneys remove. High values can mean your kidneys are not filtering well or that you are low on fluids.",
    ),
    (
        "2160-0",
        "Creatinine",
        "A waste product of normal muscle activity that your kidneys clear from the blood. It is the main blood test of how well your kidneys work.",
    ),
    (
        "98979-8",
        "Estimated glomerular filtration rate (eGFR)",
        "An estimate of how much blood your kidneys filter each minute, worked out from your creatinine, age and sex. Below 60 for three months or more suggests kidney disease.",
    ),
    (
        "2951-2",
        "Sodium",
        "A salt that controls how much water your body holds and helps your nerves and muscles work.",
    ),
    (
        "2823-3",
        "Potassium",
        "A mineral your heart and muscles need to work properly. Levels that are too high or too low can upset the rhythm of your heart.",
    ),
    (
        "2075-0",
        "Chloride",
        "A salt that works with sodium to keep the amount of fluid and the acid balance in your body steady.",
    ),
    (
        "2028-9",
        "Carbon dioxide (bicarbonate)",
        "Shows how well your body keeps its acid balance. Kidney and lung conditions, and losing fluid through vomiting or diarrhoea, can change it.",
    ),
    (
        "17861-6",
        "Calcium",
        "A mineral for strong bones that your nerves, muscles and heart also need. Unusual levels can come from problems with the bones, the kidneys or the parathyroid glands.",
    ),
    (
        "2885-2",
        "Total protein",
        "All the protein in your blood, mostly albumin and antibodies. It reflects your nutrition, your liver and your immune system.",
    ),
    (
        "1751-7",
        "Albumin",
        "The main protein made by your liver. It keeps fluid inside your blood vessels; low values can come from liver or kidney disease or from poor nutrition.",
    ),
    (
        "1975-2",
        "Bilirubin",
        "A yellow substance made when old red blood cells are broken down, cleared by the liver. High levels can turn the skin and the whites of the eyes yellow.",
    ),
    (
        "6768-6",
        "Alkaline phosphatase (ALP)",
        "An enzyme found mostly in the liver and the bones. High values can point to a liver or bone problem; it is naturally higher in growing children.",
    ),
    (
        "1742-6",
        "ALT",
        "An enzyme found mainly in the liver. When liver cells are irritated or damaged, more ALT leaks into the blood.",
    ),
    (
        "1920-8",
        "AST",
        "An enzyme found in the liver, the heart and the muscles. Read together with ALT, it helps show whether the liver is inflamed.",
    ),
    (
        "6690-2",
        "White blood cells",
        "The cells that fight infection. A high count can mean an infection or inflammation; a low count can come from some medicines or illnesses.",
    ),
    (
        "789-8",
        "Red blood cells",
        "The number of red blood cells, which carry oxygen from your lungs to the rest of your body.",
    ),
    (
        "718-7",
        "Hemoglobin",
        "The protein in red blood cells that carries oxygen. Low hemoglobin is called anemia and can make you feel tired or short of breath.",
    ),
    ("4544-3", "Hematocrit", "How much of your blood, by volume, is made up of red blood cells."),
    (
        "787-2",
        "MCV (red cell size)",
        "The average size of your red blood cells. It helps find the cause of anemia, such as low iron (small cells) or low vitamin B12 (large cells).",
    ),
    (
        "777-3",
        "Platelets",
        "Tiny cell fragments that help your blood clot. Too few can cause easy bruising or bleeding; too many can come with inflammation.",
    ),
    ("2093-3", "Total cholesterol", "All the cholesterol in your blood, the 'good' and the 'bad' together."),
    (
        "2571-8",
        "Triglycerides",
        "The most common fat in the blood. Levels rise after meals and with alcohol, extra weight and diabetes that is not well controlled.",
    ),
    (
        "2085-9",
        "HDL cholesterol",
        "The 'good' cholesterol, which carries cholesterol away from your arteries to the liver. Higher is better.",
    ),
    (
        "13457-7",
        "LDL cholesterol",
        "The 'bad' cholesterol, which can build up in the walls of your arteries. Lower values mean a lower risk of heart attack and stroke.",
    ),
    (
        "4548-4",
        "Hemoglobin A1c",
        "Your average blood sugar over the past two to three months. It is used to diagnose diabetes and to see how well treatment is working.",
    ),
    (
        "3016-3",
        "TSH (thyroid-stimulating hormone)",
        "A hormone from the brain's pituitary gland that tells the thyroid how hard to work. A high TSH usually means an underactive thyroid, a low TSH an overactive one.",
    ),
    (
        "3024-7",
        "Free T4 (thyroxine)",
        "The main hormone made by the thyroid gland, measured in the form your body can use. It is often checked along with TSH.",
    ),
    (
        "62292-8",
        "Vitamin D (25-hydroxy)",
        "The form of vitamin D your body stores. Vitamin D keeps bones strong; low levels are common, especially in winter and in people who spend little time outdoors.",
    ),
    (
        "2857-1",
        "PSA (prostate-specific antigen)",
        "A protein made by the prostate gland. It can rise with an enlarged or inflamed prostate, and sometimes with prostate cancer.",
    ),
    (
        "2276-4",
        "Ferritin",
        "A protein that stores iron in your body. A low ferritin is the earliest sign that your iron stores are running low.",
    ),
    (
        "5811-5",
        "Urine specific gravity",
        "How concentrated your urine is, which shows how well your kidneys balance the water in your body and whether you drink enough.",
    ),
    (
        "5803-2",
        "Urine pH",
        "How acidic or alkaline your urine is. Diet, medicines and some kidney conditions can change it.",
    ),
    (
        "5804-0",
        "Urine protein",
        "Looks for protein in your urine. Healthy kidneys keep protein in the blood, so protein in the urine can be an early sign of kidney damage.",
    ),
    (
        "5792-7",
        "Urine glucose",
        "Looks for sugar in your urine, which usually appears only when blood sugar is high.",
    ),
    (
        "5794-3",
        "Blood in urine",
        "Looks for traces of blood in your urine, which can come from an infection, a kidney stone or another condition of the kidneys or bladder.",
    ),
    (
        "5799-2",
        "Leukocyte esterase",
        "Looks for white blood cells in your urine, a sign of infection or inflammation in the urinary tract.",
    ),
    (
        "5802-4",
        "Nitrite",
        "Many bacteria that cause urinary infections turn nitrate into nitrite, so a positive result suggests an infection.",
    ),
    (
        "21613-5",
        "Chlamydia test",
        "Checks a urine or swab sample for chlamydia, a common sexually transmitted infection that often causes no symptoms and is easily treated.",
    ),
    (
        "24111-7",
        "Gonorrhea test",
        "Checks a urine or swab sample for gonorrhea, a sexually transmitted infection that antibiotics can cure.",
    ),
    (
        "8480-6",
        "Systolic blood pressure",
        "The top number of a blood pressure reading: the pressure in your arteries when your heart beats.",
    ),
    (
        "8462-4",
        "Diastolic blood pressure",
        "The bottom number of a blood pressure reading: the pressure in your arteries while your heart rests between beats.",
    ),
    (
        "8867-4",
        "Heart rate",
        "How many times your heart beats in a minute, usually measured while you are resting.",
    ),
    ("9279-1", "Breathing rate", "How many breaths you take in a minute while resting."),
    (
        "8310-5",
        "Body temperature",
        "How warm your body is. A temperature of 38 °C (100.4 °F) or more is a fever.",
    ),
    (
        "59408-5",
        "Oxygen level (pulse oximetry)",
        "How much of the hemoglobin in your blood is carrying oxygen, measured with a small clip on your finger.",
    ),
    ("29463-7", "Weight", "Your body weight. Changes over time can matter more than any single reading."),
    ("8302-2", "Height", "How tall you are. For children it is tracked on a growth chart."),
    (
        "39156-5",
        "Body mass index (BMI)",
        "Your weight compared with your height. For adults, 18.5 to 24.9 is counted as a healthy range, but it is only a rough guide.",
    ),
    (
        "36643-5",
        "Chest X-ray",
        "Pictures of your lungs, heart and chest wall made with a small dose of X-rays, often used to look for pneumonia or fluid in the lungs.",
    ),
    (
        "24802-1",
        "Knee MRI",
        "Detailed pictures of the bones, cartilage, ligaments and tendons of your knee, made with a strong magnet and radio waves rather than X-rays.",
    ),
    (
        "11524-6",
        "Electrocardiogram (ECG)",
        "A recording of the electrical activity of your heart, taken with stickers on your chest. It shows your heart rate and rhythm.",
    ),
)


def load_guides(apps, schema_editor):
    LabTestGuide = apps.get_model("records", "LabTestGuide")
    for code, name, description in GUIDES:
        LabTestGuide.objects.update_or_create(code=code, defaults={"name": name, "description": description})


def unload_guides(apps, schema_editor):
    LabTestGuide = apps.get_model("records", "LabTestGuide")
    LabTestGuide.objects.filter(code__in=[code for code, _name, _description in GUIDES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_guides, unload_guides),
    ]
