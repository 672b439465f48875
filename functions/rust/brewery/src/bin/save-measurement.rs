fn main() {
    brewery::run(brewery::actions::save_measurement);
}
