/*
 * ldr.ino: the seed's sketch, kept as the reference behaviour.
 *
 * Reads the light-dependent resistor on A3 and prints the bare reading (0..1023) on its own line
 * every 5 s at 9600 baud. Unchanged from the report the project comes from, comments translated;
 * `serial` with `parser: int` reads it. firmware/ldr_seq/ adds a sequence number and a checksum.
 */
const int analogInPin = A3; // analog input
int sensorValue = 0;        // value

void setup()
{
    Serial.begin(9600);
}

void loop()
{
    sensorValue = analogRead(analogInPin);
    Serial.println(sensorValue);
    delay(5000);
}
